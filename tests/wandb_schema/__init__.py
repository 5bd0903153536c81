"""A slice of W&B's GraphQL schema, rebuilt from the queries W&B's own code sends.

``extract.py`` writes ``slice.json`` from the installed ``wandb`` (plus ``supplement.json``);
``selections.py`` walks a query's fields by path and checks them against the slice.
"""
