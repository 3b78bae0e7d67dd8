"""Tweet sentiment with its whole MLOps lifecycle, one subpackage per stage:
``data`` (in) -> ``models`` (the types) -> ``pipeline`` (train, validate, promote) ->
``serving`` (answer) -> ``monitoring`` (watch), over ``infra``; ``config``, ``errors``,
``vocabulary``, ``metrics``, ``registry`` (every MLflow call) and ``lifecycle`` (the facade
the UI and the CLI call) on top.

This package never imports gradio; ``app.py``, ``ui`` and ``admin`` are thin callers of it.
Importing it is cheap: heavy libraries load inside the functions that need them.
"""

from sentiment import legacy
from sentiment.config import apply_offline_defaults

apply_offline_defaults()
legacy.install()

__version__ = "0.1.0"
