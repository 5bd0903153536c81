"""harness comment: the reports reach the PRs through the real PyGithub and a local GitHub.

The GitHub server validates every request and response against GitHub's OpenAPI
description, so ``violations == []`` at the end of each test (its fixture checks) means
the traffic was GitHub-shaped both ways.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.manifest import read_json
from harness.render.markdown import marker

from .helpers import Ran, fresh_store, invoke, offline_env
from .schemas import assert_valid
from .servers.github_server import ACTIONS_BOT, GithubServer, User, _Call, _Reply

REPO = "octo/exp"
PR_BRANCHES = ("exp/good", "exp/fails", "exp/nan")  # exp/killed and main have no PR


class Setup:
    def __init__(self, repo: Path, home: Path, gh: GithubServer, tmp: Path) -> None:
        self.repo, self.home, self.gh, self.tmp = repo, home, gh, tmp
        self.prs = {branch: gh.add_pull(REPO, head=branch) for branch in PR_BRANCHES}
        self.summary = tmp / "summary.md"
        self.outputs = tmp / "outputs"

    def run(self, program: str, *args: str, **env: str) -> Ran:
        base = offline_env(
            HARNESS_HOME=str(self.home),
            GITHUB_API_URL=self.gh.url,
            GITHUB_REPOSITORY=REPO,
            GITHUB_TOKEN=self.gh.token,
            GITHUB_STEP_SUMMARY=str(self.summary),
            GITHUB_OUTPUT=str(self.outputs),
        )
        environment = {k: v for k, v in {**base, **env}.items() if v}
        return invoke(program, *args, cwd=self.repo, env=environment)

    def analyze_and_comment(self, *args: str) -> Ran:
        reports = self.tmp / "reports"
        analyzed = self.run("harness", "analyze", "--out", str(reports), *args)
        assert analyzed.returncode == 0, analyzed.stderr
        commented = self.run("harness", "comment", str(reports), "--format", "json")
        if commented.stdout:
            assert_valid("comment", json.loads(commented.stdout))
        return commented

    def bot_comments(self, branch: str) -> list[str]:
        found = self.gh.comments(REPO, self.prs[branch])
        return [c.body for c in found if c.user == ACTIONS_BOT]

    def run_of(self, branch: str) -> str:
        """The id of one of ``branch``'s runs."""
        return next(
            p.parent.name
            for p in self.home.glob("runs/*/harness.json")
            if read_json(p).get("branch") == branch
        )


def setup_on(server: GithubServer, ended_runs: tuple[Path, Path], tmp: Path) -> Iterator[Setup]:
    repo, home = ended_runs
    own_home = fresh_store(home, tmp / "store")
    with server as gh:
        gh.add_repo(REPO)
        yield Setup(repo, own_home, gh, tmp)
        assert gh.violations == []


@pytest.fixture
def setup(ended_runs: tuple[Path, Path], tmp_path: Path) -> Iterator[Setup]:
    yield from setup_on(GithubServer(), ended_runs, tmp_path)


class RacedGithub(GithubServer):
    """A GitHub on which another delivery races each of ours: its comment, with the same
    marker and by the same bot, lands after we looked for one and before ours is created."""

    def __init__(self) -> None:
        super().__init__()
        self.rivals: dict[int, int] = {}  # PR number: the rival comment's id

    def _create_comment(self, call: _Call) -> _Reply:
        number = int(call.params["issue_number"])
        if number not in self.rivals:
            first = str(call.body["body"]).split("\n", 1)[0]
            rival = self.add_comment(REPO, number, first + "\nthe rival's older report")
            self.rivals[number] = rival.id
        return super()._create_comment(call)


@pytest.fixture
def raced(ended_runs: tuple[Path, Path], tmp_path: Path) -> Iterator[Setup]:
    yield from setup_on(RacedGithub(), ended_runs, tmp_path)


def test_one_comment_per_pr_then_nothing_new(setup: Setup) -> None:
    done = setup.analyze_and_comment()
    assert done.returncode == 0, done.stderr
    actions = {d["branch"]: d["action"] for d in json.loads(done.stdout)["deliveries"]}
    assert actions == {
        "exp/good": "created",
        "exp/fails": "created",
        "exp/nan": "created",
        "exp/killed": "no_pr",
        "main": "no_pr",
    }
    for branch in PR_BRANCHES:
        [body] = setup.bot_comments(branch)
        assert body.startswith(marker("summary", branch) + "\n")
    [fails] = setup.bot_comments("exp/fails")
    assert "#### 💥 " in fails and "ValueError: shapes do not match" in fails
    summary = setup.summary.read_text()
    assert "| `exp/killed` | failed | — | no open PR: the report is below |" in summary
    assert marker("summary", "exp/killed") in summary and marker("summary", "main") in summary
    outputs = dict(line.split("=", 1) for line in setup.outputs.read_text().splitlines())
    assert json.loads(outputs["comment-urls"]) and outputs["failed"] == "0"
    assert all(read_json(p).get("reported_at") for p in setup.home.glob("runs/*/harness.json"))

    posts = [r for r in setup.gh.requests if r[0] in ("POST", "PATCH")]
    again = setup.analyze_and_comment()  # the same template dispatch once more
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["deliveries"] == []
    assert [r for r in setup.gh.requests if r[0] in ("POST", "PATCH")] == posts
    assert "Nothing new to report" in setup.summary.read_text()


def test_a_named_run_updates_its_comment_in_place(setup: Setup) -> None:
    assert setup.analyze_and_comment().returncode == 0
    [comment] = [c for c in setup.gh.comments(REPO, setup.prs["exp/nan"]) if c.user == ACTIONS_BOT]
    comment.body = marker("summary", "exp/nan") + "\nan older report"
    run_id = next(
        p.parent.name
        for p in setup.home.glob("runs/*/harness.json")
        if read_json(p).get("branch") == "exp/nan"
    )
    done = setup.analyze_and_comment("--run-id", run_id)
    assert done.returncode == 0, done.stderr
    [delivery] = json.loads(done.stdout)["deliveries"]
    assert delivery["action"] == "updated"
    [after] = setup.gh.comments(REPO, setup.prs["exp/nan"])
    assert after.id == comment.id and "#### 💥 " in after.body and "older" not in after.body


def test_a_dispatch_naming_one_branch_reports_every_branch_as_the_workflows_run_it(
    setup: Setup,
) -> None:
    """The report workflows share one queue, where GitHub cancels all waiting runs but the
    newest: with HARNESS_ANALYZE_ALL (what they set) the payload's branch narrows nothing."""
    event = setup.tmp / "event.json"
    payload = {"project_name": "test", "branch": "exp/good"}
    event.write_text(json.dumps({"action": "wandb_run_finished", "client_payload": payload}))
    dispatched = {"GITHUB_EVENT_NAME": "repository_dispatch", "GITHUB_EVENT_PATH": str(event)}
    reports = str(setup.tmp / "reports")
    every = {**dispatched, "HARNESS_ANALYZE_ALL": "true"}
    refused = setup.run("harness", "analyze", "--out", reports, "--branch", "exp/nan", **every)
    assert refused.returncode == 2 and "without --branch and --run-id" in refused.stderr
    assert setup.run("harness", "analyze", "--out", reports, **every).returncode == 0
    done = setup.run("harness", "comment", reports, "--format", "json")
    assert done.returncode == 0, done.stderr
    delivered = {d["branch"] for d in json.loads(done.stdout)["deliveries"]}
    assert delivered == {*PR_BRANCHES, "exp/killed", "main"}
    assert all(len(setup.bot_comments(branch)) == 1 for branch in PR_BRANCHES)


def test_a_raced_create_ends_as_one_comment_the_oldest(raced: Setup) -> None:
    """Two deliveries both found no comment and both created one: ours, the younger, is
    deleted and our report goes into the older one, which stays where readers saw it."""
    done = raced.analyze_and_comment()
    assert done.returncode == 0, done.stderr
    deliveries = {d["branch"]: d for d in json.loads(done.stdout)["deliveries"]}
    gh = raced.gh
    assert isinstance(gh, RacedGithub)
    for branch in PR_BRANCHES:
        [comment] = gh.comments(REPO, raced.prs[branch])
        assert comment.id == gh.rivals[raced.prs[branch]]
        assert comment.body.startswith(marker("summary", branch) + "\n")
        assert "rival" not in comment.body
        assert deliveries[branch]["action"] == "updated"
        assert deliveries[branch]["comment_url"].endswith(f"#issuecomment-{comment.id}")
    assert sum(r[0] == "DELETE" for r in gh.requests) == len(PR_BRANCHES)
    assert all(read_json(p).get("reported_at") for p in raced.home.glob("runs/*/harness.json"))


def test_duplicates_converge_on_the_oldest_and_humans_are_left_alone(setup: Setup) -> None:
    """Comments left by an interrupted delivery: the oldest is updated in place, the younger
    ones of the same marker and author are deleted, a person's comment with our marker and
    the bot's comment under another branch's marker stay."""
    pr = setup.prs["exp/good"]
    ours = marker("summary", "exp/good")
    oldest = setup.gh.add_comment(REPO, pr, ours + "\nthe oldest")
    setup.gh.add_comment(REPO, pr, ours + "\na duplicate")
    setup.gh.add_comment(REPO, pr, ours + "\nforged", user=User("mallory", 7))
    setup.gh.add_comment(REPO, pr, ours + "\nanother duplicate")
    other = setup.gh.add_comment(REPO, pr, marker("summary", "exp/nan") + "\nnot this branch")
    done = setup.analyze_and_comment()
    assert done.returncode == 0, done.stderr
    good = next(d for d in json.loads(done.stdout)["deliveries"] if d["branch"] == "exp/good")
    assert good["action"] == "updated"
    left = setup.gh.comments(REPO, pr)
    assert [c.id for c in left if c.user == ACTIONS_BOT] == [oldest.id, other.id]
    assert "beats main" in oldest.body and other.body.endswith("not this branch")
    assert [c.body for c in left if c.user.login == "mallory"] == [ours + "\nforged"]

    again = setup.analyze_and_comment("--run-id", setup.run_of("exp/good"))  # a refresh
    assert again.returncode == 0, again.stderr
    assert [c.id for c in setup.gh.comments(REPO, pr) if c.user == ACTIONS_BOT] == [
        oldest.id,
        other.id,
    ]


@pytest.mark.parametrize(
    "failures",
    [[(502, {}), (502, {})], [(429, {"Retry-After": "1"})]],
    ids=["502-twice", "429-retry-after"],
)
def test_transient_github_errors_still_give_one_comment(
    setup: Setup, failures: list[tuple[int, dict[str, str]]]
) -> None:
    reports = setup.tmp / "reports"
    assert setup.run("harness", "analyze", "--out", str(reports)).returncode == 0
    setup.gh.fail_next[:] = failures
    done = setup.run("harness", "comment", str(reports))
    assert done.returncode == 0, done.stderr
    assert setup.gh.fail_next == []
    for branch in PR_BRANCHES:
        assert len(setup.bot_comments(branch)) == 1


def test_only_bot_comments_are_updated(setup: Setup) -> None:
    human = User("mallory", 7)
    pr = setup.prs["exp/good"]
    setup.gh.add_comment(REPO, pr, marker("summary", "exp/good") + "\nforged", user=human)
    assert setup.analyze_and_comment().returncode == 0
    bodies = {c.user.login: c.body for c in setup.gh.comments(REPO, pr)}
    assert bodies["mallory"].endswith("forged") and "beats main" in bodies[ACTIONS_BOT.login]


def test_draft_pr_is_opened_when_configured(setup: Setup, tmp_path: Path) -> None:
    config = tmp_path / "harness.yaml"
    config.write_text((setup.repo / "harness.yaml").read_text() + "github: {open_draft_pr: true}\n")
    reports = setup.tmp / "reports"
    env = {"HARNESS_CONFIG": str(config)}
    assert setup.run("harness", "analyze", "--out", str(reports), **env).returncode == 0
    done = setup.run("harness", "comment", str(reports), "--format", "json", **env)
    assert done.returncode == 0, done.stderr
    killed = next(d for d in json.loads(done.stdout)["deliveries"] if d["branch"] == "exp/killed")
    assert killed["action"] == "created" and killed["draft_opened"]
    [draft] = [p for p in setup.gh.pulls(REPO) if p.head == "exp/killed"]
    assert draft.draft and draft.base == "main"
    assert not any(p.head == "main" for p in setup.gh.pulls(REPO))  # never for the baseline


def test_github_down_is_one_error_and_nothing_is_marked(setup: Setup) -> None:
    reports = setup.tmp / "reports"
    assert setup.run("harness", "analyze", "--out", str(reports)).returncode == 0
    setup.gh.fail_next[:] = [(503, {"Retry-After": "0"})] * 5
    done = setup.run("harness", "comment", str(reports))
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("harness: error: 5 report(s) not delivered")
    assert "GitHub answered 503" in setup.summary.read_text()
    assert not any(read_json(p).get("reported_at") for p in setup.home.glob("runs/*/harness.json"))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GITHUB_REPOSITORY": ""}, "GITHUB_REPOSITORY: expected owner/name, got 'not set'"),
        ({"GITHUB_REPOSITORY": "a/b;rm -rf"}, "GITHUB_REPOSITORY: expected owner/name"),
        ({"GITHUB_TOKEN": ""}, "GITHUB_TOKEN is not set"),
        ({"GITHUB_API_URL": "file:///etc"}, "GITHUB_API_URL: not an http(s) URL"),
    ],
)
def test_bad_environment_is_one_line(setup: Setup, env: dict[str, str], message: str) -> None:
    reports = setup.tmp / "reports"
    assert setup.run("harness", "analyze", "--out", str(reports)).returncode == 0
    done = setup.run("harness", "comment", str(reports), **env)
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1
    assert setup.gh.requests == []


def test_a_tampered_index_posts_nothing(setup: Setup) -> None:
    reports = setup.tmp / "reports"
    assert setup.run("harness", "analyze", "--out", str(reports)).returncode == 0
    index = json.loads((reports / "index.json").read_text())
    index["reports"][0]["markdown"] = "../../etc/passwd"
    (reports / "index.json").write_text(json.dumps(index))
    done = setup.run("harness", "comment", str(reports))
    assert done.returncode == 2 and "not a reports index" in done.stderr
    assert setup.gh.requests == []


def launch_result(branch: str, commit: str) -> dict[str, object]:
    """What ``launch-job --backend wandb --format json`` prints."""
    return {
        "schema_version": 1,
        "backend": "wandb",
        "branch": branch,
        "commit": commit,
        "job": "team/test/harness-job:exp-good-0123abc",
        "queue": "gpus",
        "items": [
            {"id": f"UnVuUXVldWVJdGVtOj{i}", "seed": i, "url": "https://wandb.ai/team/launch"}
            for i in range(2)
        ],
        "superseded": [],
    }


def test_queued_state_then_the_report_in_the_same_comment(setup: Setup) -> None:
    branch_runs = [read_json(p) for p in setup.home.glob("runs/*/harness.json")]
    commit = next(r["commit"] for r in branch_runs if r.get("branch") == "exp/good")
    launched = setup.tmp / "launch.json"
    launched.write_text(json.dumps(launch_result("exp/good", "f" * 40)))
    done = setup.run("harness", "comment", "--launched", str(launched))
    assert done.returncode == 0, done.stderr
    [queued] = setup.gh.comments(REPO, setup.prs["exp/good"])
    assert "run(s) queued on `gpus`" in queued.body and "UnVuUXVldWVJdGVtOj1" in queued.body
    assert setup.analyze_and_comment("--branch", "exp/good").returncode == 0
    [report] = setup.gh.comments(REPO, setup.prs["exp/good"])
    assert report.id == queued.id and "beats main" in report.body

    launched.write_text(json.dumps(launch_result("exp/good", commit)))  # a late status
    late = setup.run("harness", "comment", "--launched", str(launched), "--format", "json")
    assert json.loads(late.stdout)["deliveries"][0]["action"] == "unchanged"
    assert "beats main" in setup.gh.comments(REPO, setup.prs["exp/good"])[0].body


def test_queued_state_of_a_local_launch_or_bad_json(setup: Setup) -> None:
    launched = setup.tmp / "launch.json"
    launched.write_text(json.dumps({"schema_version": 1, "branch": "main", "runs": []}))
    done = setup.run("harness", "comment", "--launched", str(launched))
    assert done.returncode == 0 and "nothing to post" in done.stdout
    launched.write_text(json.dumps({**launch_result("exp/good", "f" * 40), "commit": "$(x)"}))
    bad = setup.run("harness", "comment", "--launched", str(launched))
    assert bad.returncode == 2 and "not a launch result" in bad.stderr
    assert setup.gh.requests == []
