"""The test session is the application: it chooses Keras' backend (lrkit.keras never does).

Set before anything imports keras, for the tests and the doctests under src/ alike.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
