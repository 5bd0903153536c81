"""Peak memory of ``launch-job`` while its run streams a lot of output.

A scratch repository's script writes MEGABYTES of output as a progress bar would: ``\\r``
redraws and no newline for the first half, then long lines. ``launch-job`` streams it to
output.log and to the terminal (here a pipe, read and thrown away). The launcher's peak
resident memory (``VmHWM`` of its process, read until it exits) is compared with that of a
launch whose script prints nothing: the ratio says what streaming costs.

    .venv/bin/python benchmarks/launcher_memory.py
    .venv/bin/python benchmarks/launcher_memory.py --megabytes 300
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SCRIPT = """\
import sys
half = {megabytes} * 1024 * 1024 // 2
chunk = "step 123456 loss 0.123\\r" * 4096
written = 0
while written < half:
    sys.stdout.write(chunk)
    written += len(chunk)
line = "x" * 999 + "\\n"
written = 0
while written < half:
    sys.stdout.write(line * 1024)
    written += len(line) * 1024
sys.stdout.flush()
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def peak_kib(repo: Path, home: Path, script: str) -> tuple[int, float, int]:
    """The launcher's peak RSS (KiB), its wall time and the bytes of output.log."""
    (repo / "train.py").write_text(script)
    git(repo, "commit", "--quiet", "-am", "script")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "WANDB_"))}
    env.update(HARNESS_HOME=str(home), WANDB_MODE="disabled")
    started = time.monotonic()
    launcher = subprocess.Popen(
        [str(BIN / "launch-job"), "--branch", "main"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert launcher.stdout is not None
    drain = threading.Thread(target=lambda: launcher.stdout.read(), daemon=True)  # type: ignore[union-attr]
    drain.start()
    peak = 0
    status = Path(f"/proc/{launcher.pid}/status")
    while launcher.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            break
        time.sleep(0.02)
    drain.join()
    took = time.monotonic() - started
    logs = list(home.glob("runs/*/output.log"))
    size = max((p.stat().st_size for p in logs), default=0)
    for log in logs:
        log.parent.rename(log.parent.with_name(log.parent.name + ".done"))
    return peak, took, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100, help="output to stream (100)")
    megabytes = parser.parse_args().megabytes
    if not Path("/proc/self/status").exists():
        sys.exit("launcher_memory: needs Linux's /proc")
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        repo, home = Path(tmp) / "repo", Path(tmp) / "store"
        repo.mkdir()
        git(repo, "init", "--quiet", "--initial-branch=main")
        git(repo, "config", "user.name", "Bench")
        git(repo, "config", "user.email", "bench@example.invalid")
        (repo / "harness.yaml").write_text("launch: {entry_point: train.py, timeout: 10m}\n")
        (repo / "train.py").write_text("")
        git(repo, "add", "-A")
        git(repo, "commit", "--quiet", "-m", "init")
        idle, idle_s, _ = peak_kib(repo, home, "pass\n")
        busy, busy_s, size = peak_kib(repo, home, SCRIPT.format(megabytes=megabytes))
    mib = 2**20
    print(f"output streamed      {size / mib:8.1f} MiB in {busy_s:.1f} s", end="")
    print(f" (a launch printing nothing: {idle_s:.1f} s)")
    print(f"launcher peak RSS    {busy / 1024:8.1f} MiB", end="")
    print(f" (a launch printing nothing: {idle / 1024:.1f} MiB)")
    print(f"ratio                {busy / idle:8.2f} x the idle launcher's peak")
    per_byte = busy * 1024 / max(size, 1)
    print(f"peak over output     {per_byte:8.3f} bytes of memory per byte streamed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
