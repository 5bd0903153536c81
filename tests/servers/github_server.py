"""A local GitHub REST server for tests, checked against GitHub's own OpenAPI description.

The real PyGithub client (or plain ``urllib``) talks to it through its base URL. It holds
repositories, pull requests and issue comments, and answers the operations the harness uses
(the list is ``OPERATIONS`` in ``tests/github_openapi/extract.py``):

- ``GET /repos/{owner}/{repo}``;
- ``GET|POST /repos/{owner}/{repo}/pulls`` and ``GET …/pulls/{pull_number}``;
- ``GET|POST …/issues/{issue_number}/comments``,
  ``GET|PATCH|DELETE …/issues/comments/{comment_id}``;
- ``GET /user``: 403 to the Actions token, as real GitHub answers ``GITHUB_TOKEN``.

Every request and every response is validated with openapi-core against
``tests/github_openapi/api.github.com.extract.json``; a failure lands in ``violations``
(a request that fails is answered 422, as GitHub does), so a test that ends with
``violations == []`` proves the traffic was GitHub-shaped both ways. Answers are built
from the description's own examples, with ids, numbers, users, bodies, timestamps and
every URL replaced by the server's state and address: PyGithub follows those URLs.

It never talks to the network and never validates statuses an operation does not
document (GitHub answers 401 anywhere, but the description lists it on few operations).
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from .base import LocalServer, QuietHandler

__all__ = ["ACTIONS_BOT", "Comment", "GithubServer", "Pull", "Repo", "User"]

EXTRACT = Path(__file__).resolve().parent.parent / "github_openapi" / "api.github.com.extract.json"
# The description's server: requests are validated as if they had been sent there.
SPEC_HOST = "https://api.github.com"
DOCS = "https://docs.github.com/rest"
GITHUB_URL = re.compile(r"https://(?:api\.|svn\.|uploads\.)?github\.com")
EXAMPLE_REPO = "octocat/Hello-World"
EXAMPLE_PULL = "/1347"
EXAMPLE_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@functools.cache
def spec_document() -> dict[str, Any]:
    """The extract as plain JSON: routes, examples and documentation links come from it."""
    data: dict[str, Any] = json.loads(EXTRACT.read_text(encoding="utf-8"))
    return data


@functools.cache
def openapi() -> OpenAPI:
    """The validator, built once per process (≈0.15 s)."""
    return OpenAPI.from_dict(spec_document())


# -- state --------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """A GitHub account. ``type`` is "User", "Bot" or "Organization", as GitHub spells it."""

    login: str
    id: int
    type: str = "User"

    @property
    def html_path(self) -> str:
        """Apps' bots live under /apps/<slug> on github.com, people under /<login>."""
        if self.type == "Bot" and self.login.endswith("[bot]"):
            return f"apps/{self.login.removesuffix('[bot]')}"
        return self.login


def _account(login: str) -> User:
    """A person's account with an id that is stable for its login."""
    return User(login, int(hashlib.sha1(login.encode()).hexdigest()[:7], 16))


ACTIONS_BOT = User("github-actions[bot]", 41898282, "Bot")  # GITHUB_TOKEN's identity, real id


@dataclass
class Repo:
    full_name: str
    id: int
    default_branch: str = "main"
    private: bool = False

    @property
    def owner(self) -> str:
        return self.full_name.partition("/")[0]


@dataclass
class Pull:
    number: int
    id: int
    title: str
    head: str  # branch name, without the "owner:" prefix
    base: str
    user: User
    created_at: str
    updated_at: str
    body: str | None = None
    state: str = "open"  # "open" or "closed"
    draft: bool = False
    head_sha: str = ""


@dataclass
class Comment:
    id: int
    issue_number: int
    body: str
    user: User
    created_at: str
    updated_at: str


@dataclass
class _RepoState:
    repo: Repo
    pulls: dict[int, Pull] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    next_number: int = 1


# -- openapi-core's request/response protocols, without a web framework -----------------


@dataclass
class _SpecRequest:
    path: str
    method: str  # lower case
    parameters: RequestParameters
    body: bytes | None
    content_type: str
    host_url: str = SPEC_HOST


@dataclass
class _SpecResponse:
    status_code: int
    headers: Headers
    data: bytes
    content_type: str = "application/json"


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _errors_text(errors: list[Exception]) -> str:
    """openapi-core errors, each with the JSON-schema failures (and where) that explain it."""
    parts = []
    for error in errors:
        schema_errors = getattr(error.__cause__, "schema_errors", None)
        if not schema_errors:
            parts.append(_short(str(error)))
        for failure in schema_errors or ():
            where = "/".join(str(p) for p in getattr(failure, "absolute_path", ()))
            message = getattr(failure, "message", str(failure))
            parts.append(f"{type(error).__name__} at /{where}: {_short(message)}")
    return " | ".join(parts)


# -- routing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    docs: str
    statuses: frozenset[str]


@functools.cache
def _routes() -> tuple[_Route, ...]:
    routes = []
    for template, item in spec_document()["paths"].items():
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        for method, operation in item.items():
            if method in ("get", "post", "patch", "put", "delete"):
                docs = operation.get("externalDocs", {}).get("url", DOCS)
                statuses = frozenset(operation["responses"])
                routes.append(_Route(method, template, re.compile(f"^{regex}$"), docs, statuses))
    return tuple(routes)


@dataclass
class _Call:
    route: _Route
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    user: User


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class _Refusal(Exception):
    """Answered with GitHub's error shape."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def _node_id(kind: str, number: int) -> str:
    """GitHub's legacy global ids: base64 of "<len>:<Type><id>"."""
    return base64.b64encode(f"0{len(kind):02d}:{kind}{number}".encode()).decode()


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` with ``change`` applied to every string inside it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_map_strings(v, change) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, change) for k, v in value.items()}
    return value


def _rewrite(value: Any, pairs: list[tuple[str, str]]) -> Any:
    """``value`` with each (old, new) substring replaced, in order, in every string."""

    def change(text: str) -> str:
        for old, new in pairs:
            text = text.replace(old, new)
        return text

    return _map_strings(value, change)


class GithubServer(LocalServer):
    """GitHub's REST API for a few repositories, on a free localhost port, in a thread.

    ``token`` is the Actions-style token (identity ``ACTIONS_BOT``); ``personal_token``,
    when given, authenticates as ``personal_user``. Anything else is answered 401. Both
    ``Authorization: token X`` and ``Bearer X`` are accepted.

    What tests read: ``url`` (PyGithub's ``base_url``), ``requests`` (method, path with its
    query string as sent, status), ``violations`` (empty while the traffic matches GitHub's
    description), ``pulls()`` and ``comments()``. What tests set: ``add_repo``,
    ``add_pull``, ``add_comment``, and ``fail_next``, (status, headers) pairs that answer
    the next requests before anything else is looked at (429 gets GitHub's secondary rate
    limit message). All state is guarded by ``lock``.
    """

    def __init__(
        self,
        *,
        token: str = "ghs_test",
        personal_token: str | None = None,
        personal_user: User = User("octocat", 583231),
    ) -> None:
        super().__init__()
        self.token = token
        self.personal_token = personal_token
        self.personal_user = personal_user
        self.requests: list[tuple[str, str, int]] = []  # (method, path as sent, status)
        self.violations: list[str] = []
        self.fail_next: list[tuple[int, dict[str, str]]] = []  # (status, headers) to answer
        self.lock = threading.RLock()
        self._repos: dict[str, _RepoState] = {}
        self._next_id = 1000
        self._clock = datetime(2026, 1, 1, tzinfo=timezone.utc)

    # -- state helpers for tests -----------------------------------------------------------
    def add_repo(
        self, full_name: str, *, default_branch: str = "main", private: bool = False
    ) -> Repo:
        with self.lock:
            repo = Repo(full_name, self._new_id(), default_branch, private)
            self._repos[full_name.lower()] = _RepoState(repo)
            return repo

    def add_pull(
        self,
        full_name: str,
        *,
        head: str,
        base: str | None = None,
        state: str = "open",
        title: str | None = None,
        body: str | None = None,
        draft: bool = False,
        user: User | None = None,
    ) -> int:
        """A pull request from branch ``head`` (no "owner:" prefix); returns its number."""
        with self.lock:
            repo = self._repo(full_name)
            pull = self._new_pull(
                repo,
                head=head,
                base=base,
                title=title or head,
                body=body,
                draft=draft,
                user=user or _account(repo.repo.owner),
            )
            pull.state = state
            return pull.number

    def add_comment(
        self, full_name: str, number: int, body: str, *, user: User = ACTIONS_BOT
    ) -> Comment:
        with self.lock:
            return self._new_comment(self._repo(full_name), number, body, user)

    def pulls(self, full_name: str) -> list[Pull]:
        with self.lock:
            return list(self._repo(full_name).pulls.values())

    def comments(self, full_name: str, number: int) -> list[Comment]:
        """The comments on issue or pull request ``number``, oldest first."""
        with self.lock:
            repo = self._repo(full_name)
            return [c for c in repo.comments.values() if c.issue_number == number]

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> GithubServer:
        openapi()  # load the description here, not inside the first request's time
        return super().start()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, headers, payload = server.handle(
                    self.command, self.path, dict(self.headers.items()), body
                )
                self.reply(status, payload, headers)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        return Handler

    # -- one request ----------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, headers, body). The HTTP handler's only call."""
        with self.lock:
            reply, route = self._answer(method, raw_path, Headers(headers), body)
            out_headers = {"content-type": "application/json; charset=utf-8", **reply.headers}
            payload = json.dumps(reply.body).encode() if reply.body is not None else b""
            if route is not None and str(reply.status) in route.statuses:
                response = _SpecResponse(reply.status, Headers(out_headers), payload)
                request = self._spec_request(method, raw_path, Headers(headers), body)
                errors = list(openapi().iter_response_errors(request, response))
                if errors:
                    self._violation(method, raw_path, f"response {reply.status}", errors)
            self.requests.append((method, raw_path, reply.status))
            return reply.status, out_headers, payload

    def _answer(
        self, method: str, raw_path: str, headers: Headers, body: bytes
    ) -> tuple[_Reply, _Route | None]:
        if self.fail_next:
            status, extra = self.fail_next.pop(0)
            message = SECONDARY_RATE_LIMIT if status == 429 else HTTPStatus(status).phrase
            return _Reply(status, {"message": message, "documentation_url": DOCS}, extra), None
        user = self._identity(headers.get("authorization"))
        if user is None:
            why = "Bad credentials" if "authorization" in headers else "Requires authentication"
            return _Reply(401, {"message": why, "documentation_url": DOCS, "status": "401"}), None
        path, _, query = raw_path.partition("?")
        found = self._route(method.lower(), path)
        if found is None:
            self.violations.append(f"{method} {raw_path}: not an operation of the extract")
            return _Reply(404, {"message": "Not Found", "documentation_url": DOCS}), None
        route, params = found
        errors = list(
            openapi().iter_request_errors(self._spec_request(method, raw_path, headers, body))
        )
        if errors:
            text = self._violation(method, raw_path, "request", errors)
            return _Reply(
                422, {"message": f"Invalid request.\n\n{text}", "documentation_url": route.docs}
            ), route
        try:
            data = json.loads(body) if body else None
        except ValueError:
            return _Reply(
                400, {"message": "Problems parsing JSON", "documentation_url": route.docs}
            ), route
        call = _Call(route, params, dict(parse_qsl(query)), data, user)
        handler = self._operations()[route.method, route.template]
        try:
            return handler(call), route
        except _Refusal as refusal:
            answer: dict[str, Any] = {"message": refusal.message, "documentation_url": route.docs}
            if refusal.errors is not None:
                answer["errors"] = refusal.errors
            return _Reply(refusal.status, {**answer, "status": str(refusal.status)}), route

    def _operations(self) -> dict[tuple[str, str], Callable[[_Call], _Reply]]:
        """The handler of each operation in the extract (a test checks none is missing)."""
        repo, pulls = "/repos/{owner}/{repo}", "/repos/{owner}/{repo}/pulls"
        comments = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
        comment = "/repos/{owner}/{repo}/issues/comments/{comment_id}"
        return {
            ("get", repo): self._get_repo,
            ("get", pulls): self._list_pulls,
            ("post", pulls): self._create_pull,
            ("get", pulls + "/{pull_number}"): self._get_pull,
            ("get", comments): self._list_comments,
            ("post", comments): self._create_comment,
            ("get", comment): self._get_comment,
            ("patch", comment): self._edit_comment,
            ("delete", comment): self._delete_comment,
            ("get", "/user"): self._get_user,
        }

    def _identity(self, authorization: str | None) -> User | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token:
            return None
        if token == self.token:
            return ACTIONS_BOT
        if self.personal_token is not None and token == self.personal_token:
            return self.personal_user
        return None

    @staticmethod
    def _route(method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        for route in _routes():
            match = route.pattern.match(path)
            if route.method == method and match:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
        return None

    @staticmethod
    def _spec_request(method: str, raw_path: str, headers: Headers, body: bytes) -> _SpecRequest:
        path, _, query = raw_path.partition("?")
        parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(query, keep_blank_values=True)), header=headers
        )
        content_type = headers.get("content-type", "application/json").lower()
        return _SpecRequest(unquote(path), method.lower(), parameters, body or None, content_type)

    def _violation(self, method: str, raw_path: str, what: str, errors: list[Exception]) -> str:
        text = _errors_text(errors)
        self.violations.append(f"{method} {raw_path}: {what}: {text}")
        return text

    # -- state internals ------------------------------------------------------------------
    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _now(self) -> str:
        """Real time, but strictly increasing: an edit always moves ``updated_at``."""
        self._clock = max(datetime.now(timezone.utc), self._clock + timedelta(seconds=1))
        return self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _repo(self, full_name: str) -> _RepoState:
        state = self._repos.get(full_name.lower())
        if state is None:
            raise _Refusal(404, "Not Found")
        return state

    def _new_pull(
        self,
        repo: _RepoState,
        *,
        head: str,
        base: str | None,
        title: str,
        body: str | None,
        draft: bool,
        user: User,
    ) -> Pull:
        now = self._now()
        sha = hashlib.sha1(f"{repo.repo.full_name}:{head}".encode()).hexdigest()
        base = base or repo.repo.default_branch
        pull = Pull(repo.next_number, self._new_id(), title, head, base, user, now, now, body)
        pull.draft, pull.head_sha = draft, sha
        repo.pulls[pull.number] = pull
        repo.next_number += 1
        return pull

    def _new_comment(self, repo: _RepoState, number: int, body: str, user: User) -> Comment:
        if number not in repo.pulls:
            raise _Refusal(404, "Not Found")
        now = self._now()
        comment = Comment(self._new_id(), number, body, user, now, now)
        repo.comments[comment.id] = comment
        return comment

    # -- JSON, from the description's examples ---------------------------------------------
    def _example(self, name: str) -> Any:
        return copy.deepcopy(spec_document()["components"]["examples"][name]["value"])

    def _finish(self, doc: dict[str, Any]) -> dict[str, Any]:
        """No URL may leave pointing at github.com: clients follow them."""
        finished: dict[str, Any] = _map_strings(doc, lambda text: GITHUB_URL.sub(self.url, text))
        return finished

    def _user_json(self, user: User) -> dict[str, Any]:
        doc: dict[str, Any] = _rewrite(
            self._example("issue-comment")["user"],
            [
                ("https://github.com/images/error/octocat_happy.gif", f"{self.url}/u/{user.id}"),
                ("https://api.github.com/users/octocat", f"{self.url}/users/{quote(user.login)}"),
                ("https://github.com/octocat", f"{self.url}/{user.html_path}"),
            ],
        )
        doc.update(
            login=user.login, id=user.id, node_id=_node_id(user.type, user.id), type=user.type
        )
        return doc

    def _repo_json(self, repo: Repo, template: dict[str, Any]) -> dict[str, Any]:
        doc = self._repo_rewrite(template, repo)
        for key in ("parent", "source", "template_repository", "organization"):
            doc.pop(key, None)  # other repositories: this one is no fork and no template
        doc.update(
            # The description's example lacks the required "language": the spec wins.
            language=None,
            description=None,
            homepage=None,
            mirror_url=None,
            topics=[],
            id=repo.id,
            node_id=_node_id("Repository", repo.id),
            name=repo.full_name.partition("/")[2],
            full_name=repo.full_name,
            owner=self._user_json(_account(repo.owner)),
            private=repo.private,
            default_branch=repo.default_branch,
        )
        if "visibility" in doc:
            doc["visibility"] = "private" if repo.private else "public"
        return self._finish(doc)

    def _repo_rewrite(self, value: Any, repo: Repo) -> Any:
        return _rewrite(
            value,
            [
                (f"{SPEC_HOST}/repos/{EXAMPLE_REPO}", f"{self.url}/repos/{repo.full_name}"),
                (f"https://github.com/{EXAMPLE_REPO}", f"{self.url}/{repo.full_name}"),
                (EXAMPLE_REPO, repo.full_name),
            ],
        )

    def _pull_json(self, repo: _RepoState, pull: Pull, example: str) -> dict[str, Any]:
        template = self._example(example)
        template = template[0] if isinstance(template, list) else template
        doc = _rewrite(
            self._repo_rewrite(template, repo.repo),
            [(EXAMPLE_PULL, f"/{pull.number}"), (EXAMPLE_SHA, pull.head_sha)],
        )
        closed = pull.state == "closed"
        owner = _account(repo.repo.owner)
        ends = {}
        for side, ref in (("head", pull.head), ("base", pull.base)):
            sha = pull.head_sha if side == "head" else hashlib.sha1(ref.encode()).hexdigest()
            ends[side] = {
                "label": f"{repo.repo.owner}:{ref}",
                "ref": ref,
                "sha": sha,
                "user": self._user_json(owner),
                "repo": self._repo_json(repo.repo, doc[side]["repo"]),
            }
        overrides: dict[str, Any] = {
            **ends,
            "id": pull.id,
            "node_id": _node_id("PullRequest", pull.id),
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "active_lock_reason": None,
            "title": pull.title,
            "body": pull.body,
            "user": self._user_json(pull.user),
            "labels": [],
            "milestone": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "closed_at": pull.updated_at if closed else None,
            "merged_at": None,
            "merge_commit_sha": None,
            "draft": pull.draft,
            "author_association": self._association(repo.repo, pull.user),
            "auto_merge": None,
            "merged": False,
            "merged_by": None,
            "mergeable": None if closed else True,
            "comments": sum(c.issue_number == pull.number for c in repo.comments.values()),
            "review_comments": 0,
        }
        doc.update({k: v for k, v in overrides.items() if k in doc})  # simple items have fewer
        return self._finish(doc)

    def _comment_json(self, repo: Repo, comment: Comment) -> dict[str, Any]:
        doc = self._example("issue-comment")
        issue_url = f"{self.url}/repos/{repo.full_name}/issues/{comment.issue_number}"
        doc.update(
            id=comment.id,
            node_id=_node_id("IssueComment", comment.id),
            url=f"{self.url}/repos/{repo.full_name}/issues/comments/{comment.id}",
            html_url=f"{self.url}/{repo.full_name}/pull/{comment.issue_number}"
            f"#issuecomment-{comment.id}",
            issue_url=issue_url,
            body=comment.body,
            user=self._user_json(comment.user),
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            author_association=self._association(repo, comment.user),
        )
        return self._finish(doc)

    @staticmethod
    def _association(repo: Repo, user: User) -> str:
        if user.login == repo.owner:
            return "OWNER"
        return "NONE" if user.type == "Bot" else "COLLABORATOR"

    def _page(self, call: _Call, path: str, items: list[Any]) -> _Reply:
        """One page of ``items`` and GitHub's Link header, which PaginatedList walks."""
        per_page = min(int(call.query.get("per_page", 30)) or 30, 100)
        page = max(int(call.query.get("page", 1)), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        links = {"prev": page - 1, "next": page + 1, "last": last, "first": 1}
        if page == 1:
            del links["prev"], links["first"]
        if page >= last:
            del links["next"], links["last"]
        parts = [
            f'<{self.url}{path}?{urlencode({**call.query, "page": number})}>; rel="{rel}"'
            for rel, number in links.items()
        ]
        headers = {"link": ", ".join(parts)} if parts else {}
        return _Reply(200, items[(page - 1) * per_page : page * per_page], headers)

    # -- operations ---------------------------------------------------------------------
    def _get_repo(self, call: _Call) -> _Reply:
        repo = self._repo(f"{call.params['owner']}/{call.params['repo']}").repo
        return _Reply(200, self._repo_json(repo, self._example("full-repository-default-response")))

    def _list_pulls(self, call: _Call) -> _Reply:
        state = self._repo(f"{call.params['owner']}/{call.params['repo']}")
        wanted = call.query.get("state", "open")
        head = call.query.get("head", "")
        base = call.query.get("base")
        pulls = [
            p
            for p in state.pulls.values()
            if wanted in ("all", p.state)
            # GitHub silently ignores a head filter without the "owner:" part
            and (":" not in head or head == f"{state.repo.owner}:{p.head}")
            and base in (None, p.base)
        ]
        key = "updated_at" if call.query.get("sort") == "updated" else "created_at"
        ascending = call.query.get("direction", "desc") == "asc"
        pulls.sort(key=lambda p: (getattr(p, key), p.number), reverse=not ascending)
        path = f"/repos/{state.repo.full_name}/pulls"
        page = self._page(call, path, pulls)
        page.body = [self._pull_json(state, p, "pull-request-simple-items") for p in page.body]
        return page

    def _create_pull(self, call: _Call) -> _Reply:
        state = self._repo(f"{call.params['owner']}/{call.params['repo']}")
        head = str(call.body["head"]).rpartition(":")[2]
        base = str(call.body["base"])
        for pull in state.pulls.values():
            if pull.state == "open" and (pull.head, pull.base) == (head, base):
                message = f"A pull request already exists for {state.repo.owner}:{head}."
                error = {"resource": "PullRequest", "code": "custom", "message": message}
                raise _Refusal(422, "Validation Failed", [error])
        pull = self._new_pull(
            state,
            head=head,
            base=base,
            title=str(call.body.get("title") or head),
            body=call.body.get("body"),
            draft=bool(call.body.get("draft", False)),
            user=call.user,
        )
        doc = self._pull_json(state, pull, "pull-request")
        return _Reply(201, doc, {"location": doc["url"]})

    def _get_pull(self, call: _Call) -> _Reply:
        state = self._repo(f"{call.params['owner']}/{call.params['repo']}")
        pull = state.pulls.get(int(call.params["pull_number"]))
        if pull is None:
            raise _Refusal(404, "Not Found")
        return _Reply(200, self._pull_json(state, pull, "pull-request"))

    def _list_comments(self, call: _Call) -> _Reply:
        state = self._repo(f"{call.params['owner']}/{call.params['repo']}")
        number = int(call.params["issue_number"])
        if number not in state.pulls:
            raise _Refusal(404, "Not Found")
        since = call.query.get("since", "")
        comments = [
            c for c in state.comments.values() if c.issue_number == number and c.updated_at >= since
        ]
        page = self._page(call, f"/repos/{state.repo.full_name}/issues/{number}/comments", comments)
        page.body = [self._comment_json(state.repo, c) for c in page.body]
        return page

    def _create_comment(self, call: _Call) -> _Reply:
        state = self._repo(f"{call.params['owner']}/{call.params['repo']}")
        number = int(call.params["issue_number"])
        comment = self._new_comment(state, number, str(call.body["body"]), call.user)
        doc = self._comment_json(state.repo, comment)
        return _Reply(201, doc, {"location": doc["url"]})

    def _comment(self, call: _Call) -> tuple[Repo, Comment]:
        state = self._repo(f"{call.params['owner']}/{call.params['repo']}")
        comment = state.comments.get(int(call.params["comment_id"]))
        if comment is None:
            raise _Refusal(404, "Not Found")
        return state.repo, comment

    def _get_comment(self, call: _Call) -> _Reply:
        repo, comment = self._comment(call)
        return _Reply(200, self._comment_json(repo, comment))

    def _edit_comment(self, call: _Call) -> _Reply:
        repo, comment = self._comment(call)
        comment.body = str(call.body["body"])
        comment.updated_at = self._now()
        return _Reply(200, self._comment_json(repo, comment))

    def _delete_comment(self, call: _Call) -> _Reply:
        """204 and no body; a comment deleted already is 404, as on GitHub."""
        _, comment = self._comment(call)
        del self._repo(f"{call.params['owner']}/{call.params['repo']}").comments[comment.id]
        return _Reply(204, None)

    def _get_user(self, call: _Call) -> _Reply:
        if call.user.type == "Bot":  # what GitHub answers an installation token
            raise _Refusal(403, "Resource not accessible by integration")
        doc = self._example("private-user-response-with-public-and-private-profile-information")
        doc = _rewrite(doc, [("octocat", call.user.login)])
        doc.update(
            login=call.user.login,
            id=call.user.id,
            node_id=_node_id("User", call.user.id),
            user_view_type="private",  # the oneOf's discriminator, missing from the example
        )
        return _Reply(200, self._finish(doc))


def serve(full_names: list[str]) -> None:  # pragma: no cover - a manual tool
    server = GithubServer().start()
    for name in full_names:
        server.add_repo(name)
    print(f"GITHUB_API_URL={server.url} GITHUB_TOKEN={server.token}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    serve(sys.argv[1:] or ["o/r"])
