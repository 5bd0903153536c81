"""Every error the harness raises on purpose, and the exit code each one maps to.

The tree::

    HarnessError                  exit 1  something the user asked about failed
     ├── RunFailed                exit 1  a launched run did not finish
     ├── MissingData              exit 1  what was asked for has no data (no curve to plot)
     ├── UsageError               exit 2  bad input: the user can fix the command line
     │    ├── ConfigError         exit 2  harness.yaml or a HARNESS_* variable is invalid
     │    ├── BranchError         exit 2  a branch name git refuses, or one that does not exist
     │    └── BackendUnavailable  exit 2  the backend cannot be used (no key, refused key)
     ├── StoreError               exit 2  the run store cannot be read (unreadable dir, unknown run)
     └── AnalysisUnavailable      (caught) the LLM analysis could not be had; the report says why

Messages are one line and name the offending value, so the CLI prints them as they are.
"""

from __future__ import annotations

__all__ = [
    "AnalysisUnavailable",
    "BackendUnavailable",
    "BranchError",
    "ConfigError",
    "HarnessError",
    "MissingData",
    "RunFailed",
    "StoreError",
    "UsageError",
]


class HarnessError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class RunFailed(HarnessError):
    """A run that was asked for did not finish (failed, crashed or timed out)."""


class MissingData(HarnessError):
    """What was asked for has no data to show (e.g. no run logged a curve of the metric)."""


class UsageError(HarnessError):
    exit_code = 2


class ConfigError(UsageError):
    """Settings are invalid. The message names the file (or variable) and the key."""


class BranchError(UsageError):
    """A branch name is not a valid git ref, or the branch does not exist."""


class BackendUnavailable(UsageError):
    """The configured backend has no implementation for this operation yet."""


class StoreError(HarnessError):
    exit_code = 2


class AnalysisUnavailable(HarnessError):
    """No analysis from the engine (no key, API down, timeout). Never fatal: the report
    notes the reason instead."""
