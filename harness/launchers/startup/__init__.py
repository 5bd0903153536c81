"""The local launcher's start-up hook for multi-process runs (see sitecustomize.py)."""
