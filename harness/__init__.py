"""harness: one experiment = one git branch, launched, tracked and compared.

The public face: the core types and the tracking module. Importing ``harness`` never
imports wandb, torch, anthropic or github.
"""

from __future__ import annotations

from . import tracking
from .compare import Comparison, MetricComparison, Sample
from .config import Settings, load_settings
from .errors import HarnessError
from .report import Report
from .runs import MetricSpec, Run, RunState

__all__ = [
    "Comparison",
    "HarnessError",
    "MetricComparison",
    "MetricSpec",
    "Report",
    "Run",
    "RunState",
    "Sample",
    "Settings",
    "load_settings",
    "tracking",
]
