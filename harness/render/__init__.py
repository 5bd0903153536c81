"""One rendering layer: a view model (document.py) built once per report, rendered as
GitHub Markdown (markdown.py) or in the terminal (terminal.py); JSON comes from one
serialiser per type (serialize.py). Text from runs is plain text in the view model and
inert in every format. Core: rich is imported only when printing to a terminal.
"""
