"""Text from runs (failure reasons, warnings a script wrote) is shown inert in the terminal:
never read as rich markup, never an escape sequence, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.inert import one_line

from .helpers import METRICS_YAML, acc, invoke, make_repo, offline_env, write_run

HOSTILE = [
    "boom [/] closes nothing",
    "[bold red]markup[/bold red] and [link=https://x.invalid]a link[/link]",
    "clear \x1b[2J screen, alternate \x1b[?1049h, title \x1b]0;pwned\x07 done",
    "C1 \x9b31m csi, NUL \x00 byte, bell \x07, back\rspace",
    "line one\nline two\ttabbed",
]


@pytest.fixture
def hostile_store(tmp_path: Path) -> tuple[Path, Path]:
    repo = make_repo(tmp_path / "repo")
    (repo / "harness.yaml").write_text(METRICS_YAML)
    home = tmp_path / "store"
    write_run(home, "base0001", branch="main", summary=acc(0.8))
    for i, text in enumerate(HOSTILE):
        write_run(
            home,
            f"bad{i:05d}",
            branch="exp/hostile",
            commit="b" * 40,
            seed=i,
            state="failed",
            exit_code=1,
            reason=f"exit code 1: ValueError: {text}",
            warnings=[text],
            created_at=f"2026-01-02T00:00:0{i}+00:00",
        )
    return repo, home


@pytest.mark.parametrize(
    "args",
    [
        ["runs"],
        ["summary", "--branch", "exp/hostile"],
        ["compare"],
        ["leaderboard"],
    ],
    ids=["runs", "summary", "compare", "leaderboard"],
)
def test_hostile_text_is_inert_in_the_terminal(
    hostile_store: tuple[Path, Path], args: list[str]
) -> None:
    repo, home = hostile_store
    ran = invoke("check-results", *args, cwd=repo, env=offline_env(HARNESS_HOME=str(home)))
    shown = ran.stdout + ran.stderr
    assert ran.returncode in (0, 1), shown
    assert "Traceback" not in shown
    assert not any(code in shown for code in ("\x1b", "\x9b", "\x00", "\x07", "\r"))
    if args[0] in ("runs", "summary"):  # the tables that show reasons
        assert "boom [/] closes nothing" in shown  # visible, as text
        assert "[bold red]markup[/bold red]" in shown


def test_one_line_flattens_controls_and_bounds_length() -> None:
    assert one_line("a\x1b[2Jb\n\tc\x9bd\x00") == "a [2Jb c d"
    assert one_line("x" * 5000) == "x" * 1999 + "…"
    assert one_line("plain [/] text") == "plain [/] text"
