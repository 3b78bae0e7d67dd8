"""Tweet sentiment with its whole MLOps lifecycle: ingest, train, validate, promote, serve.

This package never imports gradio; ``app.py`` and ``admin`` are thin callers of it.
Importing it is cheap: heavy libraries load inside the functions that need them.
"""

from sentiment.config import apply_offline_defaults

apply_offline_defaults()

__version__ = "0.1.0"
