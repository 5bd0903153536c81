"""What every command shares: settings flags, output formats, and errors → exit codes.

Exit codes, the same for every command: 0 success; 1 what was asked about failed (a run
did not finish, a branch's runs all failed); 2 bad input, usage or configuration.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..config import BACKENDS, Settings, load_settings
from ..errors import HarnessError
from ..inert import one_line

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "md", "json")


def settings_options(func: F) -> F:
    """``--backend`` and ``--home``: the flags that outrank HARNESS_* and harness.yaml."""
    func = click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        help="Local store directory (default: HARNESS_HOME, else .harness/ at the repo root).",
    )(func)
    func = click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        help="Where runs are launched and read from (default: HARNESS_BACKEND, then harness.yaml).",
    )(func)
    return func


def format_option(
    *formats: str,
    help: str = "table: for terminals; md: Markdown for PRs and job summaries; json: for tools.",
) -> Callable[[F], F]:
    """``--format`` with these choices (default: table, md, json); table is the default."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(formats or FORMATS),
        default="table",
        show_default=True,
        help=help,
    )


def get_settings(backend: str | None, home: Path | None) -> Settings:
    return load_settings(backend=backend, home=home)


def _fail(message: str, code: int) -> None:
    prog = click.get_current_context().find_root().info_name or "harness"
    click.echo(f"{prog}: error: {one_line(message)}", err=True)
    sys.exit(code)


def reports_errors(func: F) -> F:
    """Turn HarnessErrors into one line on stderr and the error's exit code; an OSError
    (an unwritable --home or --out, a folder where a file should be) or input nested past
    Python's recursion limit into one line and exit 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HarnessError as exc:
            _fail(str(exc), exc.exit_code)
        except OSError as exc:  # a path given or found that cannot be read or written
            where = f": {exc.filename}" if exc.filename else ""
            why = exc.strerror or str(exc) or type(exc).__name__
            _fail(f"{why}{where}", 2 if exc.filename else 1)  # 2: a path, i.e. bad input
        except RecursionError:  # data from outside nested past what any reader takes
            _fail("input nested too deeply to read", 2)

    return wrapper  # type: ignore[return-value]


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, allow_nan=False))


def console(*, stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output keeps whole table rows on one line instead of wrapping at 80 columns.
    return Console(file=stream, width=None if stream.isatty() else 200, soft_wrap=False)
