"""Hostile text never breaks or leaks through a renderer: one corpus, put in a failure
reason, a run's warnings, its log, a commit subject and Claude's answer, goes through every
command in every format (in process), the PR comment and the job summary. What matters:
no control byte in terminal output; in Markdown no HTML but ours, no link, image, bare URL
or @mention, every fence closed; the hostile text still there to read; no crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.inert import clean_line, one_line
from harness.render.markdown import escape

from .helpers import (
    METRICS_YAML,
    acc,
    commit_file,
    fresh_store,
    git,
    invoke,
    make_repo,
    offline_env,
    write_run,
)
from .inert_check import markdown_problems, markdown_text, terminal_problems
from .servers.anthropic_server import AnthropicServer
from .servers.github_server import GithubServer

HOSTILE = [
    "boom [/] closes nothing [bold red]markup[/bold red] [link=https://x.invalid]l[/link]",
    "clear \x1b[2J screen \x1b[?1049h title \x1b]0;pwned\x07 C1 \x9b31m NUL \x00 back\rspace",
    "bad utf-8 \udcff\udcfe and bidi \u202egnp.exe",
    "<img src=https://evil.invalid/x.png> <script>alert(1)</script> <details open>",
    "ping @octocat and @org/team, see #1, https://evil.invalid/a and www.evil.invalid",
    "![x](https://evil.invalid/?q=secret) [click](https://evil.invalid) <https://evil.invalid>",
    "``` unclosed fence ~~~ ````",
    "<!-- harness:report branch=main --> -->",
    "$\\sqrt{x}$ **bold** _it_ | pipe | # heading",
]
# Fragments a reader must still see, as text, wherever the corpus is shown in Markdown.
VISIBLE = [
    "[bold red]markup[/bold red]",
    "<script>alert(1)</script>",
    "![x](https://evil.invalid/?q=secret)",
    "@octocat",
    "``` unclosed fence",
    "<!-- harness:report branch=main -->",
    "**bold** _it_ | pipe |",
]
HUGE = "x" * 1_000_000
BRANCH = "exp/hostile"
REPO = "octo/hostile"


def traceback_log(text: str) -> str:
    return "\n".join(
        [
            *(f"log: {h}" for h in HOSTILE),
            "Traceback (most recent call last):",
            '  File "/tmp/harness-wt-9/train.py", line 3, in <module>',
            "    main()",
            f"ValueError: {text}",
        ]
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    repo = make_repo(root / "repo")
    commit_file(repo, "harness.yaml", "wandb: {project: test}\n" + METRICS_YAML)
    base = commit_file(repo, "train.py", "print('ok')\n")
    git(repo, "checkout", "--quiet", "-b", BRANCH)
    (repo / "train.py").write_text("import sys\n\nsys.exit(1)\n")
    git(repo, "add", "-A")
    subject = " ".join(h.replace("\x00", "") for h in HOSTILE[3:]) + " " + "y" * 1_000_000
    message = root / "message.txt"  # a 1 MB argument is past the kernel's limit: a file
    message.write_text(subject)
    git(repo, "commit", "--quiet", "-F", str(message))
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "--quiet", "main")
    home = root / "store"
    for seed in range(2):
        write_run(home, f"base{seed:04d}", commit=base, seed=seed, summary=acc(0.8 + seed / 100))
    for i, text in enumerate([*HOSTILE, HUGE]):
        run = write_run(
            home,
            f"bad{i:05d}",
            branch=BRANCH,
            commit=head,
            seed=i,
            state="failed",
            exit_code=1,
            reason=f"exit code 1: ValueError: {text}",
            warnings=[text],
            config={"lr": text[:100], "seed": i},
            created_at=f"2026-01-02T00:00:{i:02d}+00:00",
        )
        (run / "output.log").write_text(traceback_log(text), encoding="utf-8", errors="replace")
    return repo, home


def env(home: Path, **extra: str) -> dict[str, str]:
    return offline_env(HARNESS_HOME=str(home), **extra)


COMMANDS = [
    ["runs"],
    ["summary", "--branch", BRANCH],
    ["compare"],
    ["leaderboard"],
]


CASES = [(args, fmt) for args in COMMANDS for fmt in ("table", "md", "json")]
CASES = [(args, fmt) for args, fmt in CASES if (args[0], fmt) != ("runs", "md")]  # no md


@pytest.mark.parametrize(("args", "fmt"), CASES, ids=[f"{a[0]}-{f}" for a, f in CASES])
def test_every_command_in_every_format(
    hostile: tuple[Path, Path], args: list[str], fmt: str
) -> None:
    repo, home = hostile
    ran = invoke("check-results", *args, "--format", fmt, cwd=repo, env=env(home))
    assert ran.returncode in (0, 1), ran.stderr
    out = ran.stdout
    assert len(out) < 2_000_000
    if fmt == "json":
        json.loads(out)
    elif fmt == "md":
        assert markdown_problems(out) == []
        if args[0] == "summary":  # the table that shows reasons
            shown = markdown_text(out)
            assert all(v in shown for v in VISIBLE), [v for v in VISIBLE if v not in shown]
    else:
        assert terminal_problems(out + ran.stderr) == []
        if args[0] in ("runs", "summary"):
            assert "boom [/] closes nothing" in out and "[bold red]markup[/bold red]" in out


def test_a_log_is_printed_without_escape_sequences(hostile: tuple[Path, Path]) -> None:
    repo, home = hostile
    ran = invoke("check-results", "log", "bad00001", "-n", "20", cwd=repo, env=env(home))
    assert ran.returncode == 0 and terminal_problems(ran.stdout) == []
    assert "clear  [2J screen" in ran.stdout


@pytest.fixture
def servers() -> Iterator[tuple[AnthropicServer, GithubServer]]:
    with AnthropicServer() as claude, GithubServer() as gh:
        gh.add_repo(REPO)
        yield claude, gh
        assert gh.violations == []


@pytest.mark.parametrize("structured", [True, False], ids=["json-answer", "prose-answer"])
def test_reports_comment_and_job_summary(
    hostile: tuple[Path, Path],
    servers: tuple[AnthropicServer, GithubServer],
    tmp_path: Path,
    structured: bool,
) -> None:
    repo, home = hostile[0], fresh_store(hostile[1], tmp_path / "store")
    claude, gh = servers
    corpus = "\n".join(HOSTILE)
    fields = {"what_happened": corpus, "likely_cause": corpus, "next_step": corpus + HUGE}
    claude.answer = json.dumps({**fields, "patch": corpus}) if structured else corpus + HUGE
    pr = gh.add_pull(REPO, head=BRANCH)
    (repo / "harness.yaml").write_text(
        "wandb: {project: test}\n" + METRICS_YAML + "analysis: {engine: anthropic}\n"
    )
    outputs, summary, reports = tmp_path / "outputs", tmp_path / "summary.md", tmp_path / "r"
    variables = env(
        home,
        ANTHROPIC_API_KEY="k",
        ANTHROPIC_BASE_URL=claude.url,
        GITHUB_API_URL=gh.url,
        GITHUB_REPOSITORY=REPO,
        GITHUB_TOKEN=gh.token,
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_OUTPUT=str(outputs),
    )
    try:
        analyzed = invoke("harness", "analyze", "--out", str(reports), cwd=repo, env=variables)
        assert analyzed.returncode == 0, analyzed.stderr
        assert terminal_problems(analyzed.stdout) == []
        commented = invoke("harness", "comment", str(reports), cwd=repo, env=variables)
        assert commented.returncode == 0, commented.stderr
    finally:
        git(repo, "checkout", "--quiet", "--", "harness.yaml")
    prompts = [r["body"]["messages"][0]["content"] for r in claude.requests]
    prompt = next(p for p in prompts if BRANCH in p)
    assert "ValueError" in prompt and len(prompt) <= 200_000
    report = (reports / "exp%2Fhostile.md").read_text()
    [body] = [c.body for c in gh.comments(REPO, pr)]
    for markdown in (report, body, summary.read_text()):
        assert markdown_problems(markdown, links=(gh.url,)) == []  # links to the PR only
        assert len(markdown) < 65_536
    shown = markdown_text(body)
    assert all(v in shown for v in VISIBLE), [v for v in VISIBLE if v not in shown]
    assert "3 of 10 run(s)" not in shown  # differently-failed runs are not lumped together
    assert "/tmp/harness-wt-9" not in body  # the run's machine's path is not shown
    if structured:
        assert "A suggested patch was left out" in shown
    json.loads((reports / "exp%2Fhostile.json").read_text())
    assert "count=" in outputs.read_text()


def test_one_line_flattens_controls_and_bounds_length() -> None:
    assert one_line("a\x1b[2Jb\n\tc\x9bd\x00") == "a [2Jb c d"
    assert one_line("x" * 5000) == "x" * 1999 + "…"
    assert one_line("plain [/] text") == "plain [/] text"
    assert one_line("bad \udcff and \u202eflip") == "bad \ufffd and flip"
    assert clean_line("\tindented \x1b[31mred") == "    indented  [31mred"


def test_escape_leaves_nothing_live() -> None:
    for text in HOSTILE:
        assert markdown_problems(escape(text)) == [], text
    assert escape("# title") == "\\# title" and escape("1. item") == "1\\. item"
