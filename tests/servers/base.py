"""What the local test servers share: a ThreadingHTTPServer on a free localhost port,
served from a daemon thread, that stops at once.

``serve_forever`` checks for shutdown every ``poll_interval`` (0.5 s by default), and
``shutdown()`` waits for that check: over hundreds of tests the default adds minutes.
Handler threads are daemons and are not joined on close, so a handler still sleeping
(a deliberately slow answer) never holds a test up. Every server binds port 0: servers
of parallel test workers never collide.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

__all__ = ["LocalServer", "QuietHandler"]

POLL_INTERVAL_S = 0.01
S = TypeVar("S", bound="LocalServer")


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, no access log on stderr, and no Nagle delay: headers and
    body go out in two writes, and with Nagle on the body would wait for the client's
    delayed ACK (40 ms a request on Linux)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        """One whole response (JSON unless ``headers`` name another content-type); a
        client that already gave up is not an error here."""
        headers = dict(headers or {})
        if not any(name.lower() == "content-type" for name in headers):
            headers["content-type"] = "application/json"
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class LocalServer:
    """Subclasses give ``handler()``, the request handler class (usually a closure over
    the server's state); ``start``/``stop`` or ``with`` run it. ``stop`` may be called
    more than once (a test that takes the server down early)."""

    def __init__(self) -> None:
        self._httpd: _Httpd | None = None
        self._address: tuple[str, int] | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self._address is not None, "start the server first"
        host, port = self._address
        return f"http://{host}:{port}"

    def start(self: S) -> S:
        self._httpd = _Httpd(("127.0.0.1", 0), self.handler())
        host, port = self._httpd.server_address[:2]
        self._address = (str(host), int(port))
        threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_S},
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving; ``url`` keeps naming the (now closed) address."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
