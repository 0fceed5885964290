"""lrkit.keras never chooses Keras' backend for the application: it names the variable to set."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

if importlib.util.find_spec("keras") is None:  # find it without importing (that picks a backend)
    pytest.skip("needs keras", allow_module_level=True)


def _import_lrkit_keras(tmp_path: Path, backend: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)  # no keras.json: Keras' default, TensorFlow
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    code = textwrap.dedent(
        """
        import os, sys
        sys.modules["tensorflow"] = None  # as on a machine without TensorFlow
        try:
            import lrkit.keras
        except ImportError as err:
            print(type(err).__name__, "|", err, "|", os.environ.get("KERAS_BACKEND"))
        else:
            import keras
            print("ok", keras.backend.backend())
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )


def test_unconfigured_backend_raises_an_error_naming_keras_backend(tmp_path: Path) -> None:
    out = _import_lrkit_keras(tmp_path, None)
    assert out.returncode == 0, out.stderr
    name, message, env_after = out.stdout.strip().split(" | ")
    assert name == "BackendNotConfiguredError"
    assert "KERAS_BACKEND=torch" in message and "TensorFlow" in message
    assert env_after == "None"  # lrkit did not set it


def test_a_configured_backend_is_used_as_it_is(tmp_path: Path) -> None:
    out = _import_lrkit_keras(tmp_path, "torch")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok torch"
