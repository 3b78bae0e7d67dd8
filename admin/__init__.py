"""Operator command line (``python -m admin``): the same ``sentiment`` calls as the UI."""
