"""The local launcher's start-up hook: it puts this folder first on PYTHONPATH.

Python imports ``sitecustomize`` at start-up, in every process, so each rank that torchrun,
``accelerate launch`` or an MPI launcher starts runs this before the training script.

- Rank 0 alone logs to W&B: a rank above 0 gets ``WANDB_MODE=disabled``, so its
  ``wandb.init()`` returns a run that records nothing and exactly one run is recorded.
- ``import harness`` finds the harness that launched the run (``HARNESS_PACKAGE_ROOT``),
  never a copy in the branch's checkout, even for a script at the checkout's root (whose
  folder Python puts first on the path): a finder placed first asks only that folder for
  the ``harness`` package (its submodules then come from it). Nothing is imported here.

Then the environment's own ``sitecustomize`` (if there is one further along the path)
runs as it would have.

Standard library only, and Python 3.7 or newer: this runs before anything else is
importable, under whatever interpreter HARNESS_LAUNCH_PYTHON names.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Sequence
from pathlib import Path

# The same list as harness.wandb_env.RANK_VARIABLES (this file cannot import harness).
_RANKS = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "LOCAL_RANK")


def _rank() -> int | None:
    for name in _RANKS:
        text = os.environ.get(name, "").strip()
        if text.isdigit():
            return int(text)
    return None


def _chain() -> None:
    """Run the next ``sitecustomize`` on the path, which this one hides."""
    here = Path(__file__).resolve().parent
    rest = [p for p in sys.path if Path(p or os.curdir).resolve() != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


class _LaunchingHarness:
    """A meta path finder for the one name ``harness``: found in the launcher's folder."""

    def __init__(self, root: str) -> None:
        self.root = root

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "harness":
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [self.root])


if os.environ.get("HARNESS_RUN_ID") and (_rank() or 0) > 0:
    os.environ["WANDB_MODE"] = "disabled"
if os.environ.get("HARNESS_RUN_ID") and os.environ.get("HARNESS_PACKAGE_ROOT"):
    sys.meta_path.insert(0, _LaunchingHarness(os.environ["HARNESS_PACKAGE_ROOT"]))
_chain()
