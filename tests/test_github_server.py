"""The local GitHub server, driven by the real PyGithub client.

Each test is something the harness does on GitHub (find the pull request of a branch,
post a report comment as the Actions bot, edit it in place, open a draft pull request)
and ends, through the ``gh`` fixture, with no request or response that GitHub's OpenAPI
description rejects. Deliberate violations are checked and then cleared by their test.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from github import Auth, Github, GithubException, UnknownObjectException
from urllib3.util.retry import Retry

from .github_openapi.extract import OPERATIONS, VERSION, extract
from .servers.github_server import ACTIONS_BOT, GithubServer, spec_document


@pytest.fixture
def gh() -> Iterator[GithubServer]:
    with GithubServer(personal_token="ghp_person") as server:
        server.add_repo("o/r")
        yield server
        assert server.violations == []


def connect(gh: GithubServer, token: str | None = None, **options: Any) -> Github:
    return Github(
        base_url=gh.url,
        auth=Auth.Token(token or gh.token),
        seconds_between_requests=0,
        seconds_between_writes=0,
        **{"retry": None, **options},
    )


@pytest.fixture
def github(gh: GithubServer) -> Iterator[Github]:
    with connect(gh) as client:
        yield client


def call(
    gh: GithubServer,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = "ghs_test",
    scheme: str = "token",
) -> tuple[int, dict[str, str], Any]:
    """One request with urllib, for what PyGithub would never send."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(gh.url + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token is not None:
        request.add_header("authorization", f"{scheme} {token}")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read())


def test_get_repo(gh: GithubServer, github: Github) -> None:
    repo = github.get_repo("o/r")
    assert (repo.full_name, repo.default_branch, repo.owner.login) == ("o/r", "main", "o")
    assert repo.url == f"{gh.url}/repos/o/r"
    assert gh.requests == [("GET", "/repos/o/r", 200)]


def test_unknown_repo_is_github_404(gh: GithubServer, github: Github) -> None:
    with pytest.raises(UnknownObjectException) as raised:
        github.get_repo("o/missing")
    assert raised.value.data["message"] == "Not Found"
    assert str(raised.value.data["documentation_url"]).startswith("https://docs.github.com/")


def test_find_the_pull_request_of_a_branch(gh: GithubServer, github: Github) -> None:
    wanted = gh.add_pull("o/r", head="exp/x")
    gh.add_pull("o/r", head="exp/y")
    gh.add_pull("o/r", head="exp/x", state="closed")

    repo = github.get_repo("o/r")
    found = list(repo.get_pulls(state="open", head="o:exp/x"))

    assert [(p.number, p.head.ref, p.head.label, p.base.ref) for p in found] == [
        (wanted, "exp/x", "o:exp/x", "main")
    ]
    assert ("GET", "/repos/o/r/pulls?head=o%3Aexp%2Fx&state=open", 200) in gh.requests


def test_head_without_owner_is_ignored_as_on_github(gh: GithubServer, github: Github) -> None:
    """GitHub silently ignores ``head=branch``: every open pull request comes back."""
    gh.add_pull("o/r", head="exp/x")
    gh.add_pull("o/r", head="exp/y")
    assert len(list(github.get_repo("o/r").get_pulls(state="open", head="exp/x"))) == 2


def test_report_comment_is_posted_by_the_actions_bot(gh: GithubServer, github: Github) -> None:
    number = gh.add_pull("o/r", head="exp/x")
    pull = github.get_repo("o/r").get_pull(number)

    posted = pull.create_issue_comment("<!-- harness-report -->\nval/accuracy +0.02")
    listed = list(pull.get_issue_comments())

    assert [(c.id, c.body, c.user.login, c.user.type) for c in listed] == [
        (posted.id, posted.body, "github-actions[bot]", "Bot")
    ]
    assert [c.user for c in gh.comments("o/r", number)] == [ACTIONS_BOT]
    assert ("POST", f"/repos/o/r/issues/{number}/comments", 201) in gh.requests


def test_comment_is_edited_in_place(gh: GithubServer, github: Github) -> None:
    number = gh.add_pull("o/r", head="exp/x")
    pull = github.get_repo("o/r").get_pull(number)
    comment = pull.create_issue_comment("first report")
    first_update = comment.updated_at

    comment.edit("second report")

    assert comment.body == "second report"
    assert comment.updated_at > first_update
    [stored] = gh.comments("o/r", number)
    assert (stored.id, stored.body) == (comment.id, "second report")
    assert stored.created_at < stored.updated_at
    assert [r[:2] for r in gh.requests if r[0] != "GET"] == [
        ("POST", f"/repos/o/r/issues/{number}/comments"),
        ("PATCH", f"/repos/o/r/issues/comments/{comment.id}"),
    ]


def test_create_a_draft_pull_request(gh: GithubServer, github: Github) -> None:
    repo = github.get_repo("o/r")
    pull = repo.create_pull(base="main", head="exp/x", title="exp/x", body="A run.", draft=True)

    assert (pull.draft, pull.state, pull.user.login, pull.head.ref) == (
        True,
        "open",
        "github-actions[bot]",
        "exp/x",
    )
    assert [(p.number, p.draft) for p in gh.pulls("o/r")] == [(pull.number, True)]
    with pytest.raises(GithubException) as raised:
        repo.create_pull(base="main", head="exp/x", title="again")
    assert raised.value.status == 422
    assert raised.value.data["errors"][0]["message"] == "A pull request already exists for o:exp/x."


def test_paginated_comments_follow_link_headers(gh: GithubServer, github: Github) -> None:
    number = gh.add_pull("o/r", head="exp/x")
    for i in range(65):
        gh.add_comment("o/r", number, f"comment {i}")
    pull = github.get_repo("o/r").get_pull(number)

    bodies = [c.body for c in pull.get_issue_comments()]

    assert bodies == [f"comment {i}" for i in range(65)]
    pages = [path for _, path, _ in gh.requests if "/comments" in path]
    assert pages == [
        f"/repos/o/r/issues/{number}/comments",
        f"/repos/o/r/issues/{number}/comments?page=2",
        f"/repos/o/r/issues/{number}/comments?page=3",
    ]
    assert pull.get_issue_comments().totalCount == 65  # read from rel="last" at per_page=1


def test_per_page_is_honoured(gh: GithubServer) -> None:
    number = gh.add_pull("o/r", head="exp/x")
    for i in range(5):
        gh.add_comment("o/r", number, f"comment {i}")
    status, headers, body = call(
        gh, "GET", f"/repos/o/r/issues/{number}/comments?per_page=2&page=2"
    )
    assert status == 200
    assert [c["body"] for c in body] == ["comment 2", "comment 3"]
    link = headers["link"]
    for rel, page in (("prev", 1), ("next", 3), ("last", 3), ("first", 1)):
        assert f'per_page=2&page={page}>; rel="{rel}"' in link


def test_get_user_is_forbidden_to_the_actions_token(gh: GithubServer, github: Github) -> None:
    with pytest.raises(GithubException) as raised:
        _ = github.get_user().login
    assert raised.value.status == 403
    assert raised.value.data["message"] == "Resource not accessible by integration"

    with connect(gh, "ghp_person") as personal:
        assert personal.get_user().login == gh.personal_user.login
        assert personal.get_user().type == "User"


def test_missing_or_unknown_token_is_401(gh: GithubServer) -> None:
    status, _, body = call(gh, "GET", "/repos/o/r", token=None)
    assert (status, body["message"], body["status"]) == (401, "Requires authentication", "401")
    status, _, body = call(gh, "GET", "/repos/o/r", token="ghs_other")
    assert (status, body["message"]) == (401, "Bad credentials")
    assert call(gh, "GET", "/repos/o/r", scheme="Bearer")[0] == 200
    assert [s for _, _, s in gh.requests] == [401, 401, 200]


def test_a_request_the_spec_forbids_is_a_violation(gh: GithubServer) -> None:
    number = gh.add_pull("o/r", head="exp/x")

    status, _, body = call(gh, "POST", f"/repos/o/r/issues/{number}/comments", {})

    assert status == 422
    assert body["message"].startswith("Invalid request.")
    assert gh.comments("o/r", number) == []
    [violation] = gh.violations
    assert violation.startswith(f"POST /repos/o/r/issues/{number}/comments: request: ")
    assert "'body' is a required property" in violation
    gh.violations.clear()


def test_a_response_the_spec_forbids_is_a_violation(gh: GithubServer, github: Github) -> None:
    number = gh.add_pull("o/r", head="exp/x", state="merged")  # GitHub says closed + merged
    github.get_repo("o/r").get_pull(number)
    [violation] = gh.violations
    assert violation.startswith(f"GET /repos/o/r/pulls/{number}: response 200: ")
    assert "'merged' is not one of ['open', 'closed']" in violation
    gh.violations.clear()


def test_an_operation_outside_the_extract_is_a_violation(gh: GithubServer, github: Github) -> None:
    number = gh.add_pull("o/r", head="exp/x")
    with pytest.raises(UnknownObjectException):
        github.get_repo("o/r").get_issue(number)  # GET /repos/o/r/issues/1: not served
    assert gh.violations == [f"GET /repos/o/r/issues/{number}: not an operation of the extract"]
    gh.violations.clear()


def test_fail_next_answers_the_next_requests(gh: GithubServer, github: Github) -> None:
    gh.fail_next = [(502, {}), (429, {"Retry-After": "1"})]

    with pytest.raises(GithubException) as raised:
        github.get_repo("o/r")
    assert raised.value.status == 502
    status, headers, body = call(gh, "GET", "/repos/o/r")
    assert (status, headers["Retry-After"]) == (429, "1")
    assert "secondary rate limit" in body["message"]
    assert github.get_repo("o/r").full_name == "o/r"
    assert [s for _, _, s in gh.requests] == [502, 429, 200]


def test_a_retrying_client_gets_through(gh: GithubServer) -> None:
    gh.fail_next = [(502, {}), (503, {})]
    retry = Retry(total=2, status_forcelist=[502, 503], backoff_factor=0)
    with connect(gh, retry=retry) as client:
        assert client.get_repo("o/r").full_name == "o/r"
    assert [s for _, _, s in gh.requests] == [502, 503, 200]


def test_no_url_points_at_github_com(gh: GithubServer, github: Github) -> None:
    number = gh.add_pull("o/r", head="exp/x")
    github.get_repo("o/r").get_pull(number).create_issue_comment("hi")
    for path in (
        "/repos/o/r",
        f"/repos/o/r/pulls/{number}",
        f"/repos/o/r/issues/{number}/comments",
    ):
        text = json.dumps(call(gh, "GET", path)[2])
        assert "https://api.github.com" not in text
        assert "https://github.com" not in text


def test_every_operation_of_the_extract_is_served() -> None:
    served = {(m, p) for m, p in GithubServer()._operations()}
    described = {
        (method, path)
        for path, item in spec_document()["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "put", "delete")
    }
    assert served == described == set(OPERATIONS)


def test_the_extract_is_closed_and_says_where_it_came_from() -> None:
    """Extracting again from the extract changes nothing: every $ref it holds resolves."""
    document = spec_document()
    again = extract(document, OPERATIONS)
    assert (again["paths"], again["components"]) == (document["paths"], document["components"])
    assert document["info"]["x-extracted-from"].startswith(f"@octokit/openapi@{VERSION} ")
