"""The numpy-only core: what `import lrkit` loads, and one-line hints when an extra is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")

# A meta-path finder that makes the named top-level modules look uninstalled.
BLOCK = """
import sys
class _Block:
    def __init__(self, names): self.names = set(names)
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Block(NAMES))
"""

HEAVY = [
    "torch", "jax", "jaxlib", "optax", "keras", "tensorflow", "matplotlib", "sklearn", "scipy",
    "ray", "typer", "rich", "transformers", "lightning", "array_api_compat", "schedulefree",
]  # fmt: skip


def _python(
    code: str, *, block: tuple[str, ...] = (), args: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    prelude = BLOCK.replace("NAMES", repr(list(block))) if block else ""
    env = {**os.environ, "PYTHONPATH": SRC, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_import_lrkit_and_the_framework_free_modules_load_no_framework() -> None:
    out = _python(
        f"""
        import json, sys, time
        begin = time.perf_counter()
        import lrkit
        seconds = time.perf_counter() - begin
        import lrkit.compat, lrkit.finder, lrkit._extras, lrkit._entry
        s = lrkit.parse("warmup(10) >> cosine(start=0.1, steps=90)")
        s(50); s(list(range(100)))
        heavy = {HEAVY!r}
        print(json.dumps({{"loaded": sorted(m for m in heavy if m in sys.modules), "s": seconds}}))
        """
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["loaded"] == []
    print(f"import lrkit: {result['s'] * 1000:.0f} ms")  # reported, never asserted


def test_schedules_work_without_any_optional_dependency() -> None:
    out = _python(
        """
        import lrkit
        s = lrkit.warmup(10) >> lrkit.cosine(start=0.1, end=0.0, steps=90)
        assert lrkit.parse(str(s)) == s == lrkit.from_dict(s.to_dict())
        print(round(s(55), 6))
        """,
        block=tuple(HEAVY),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0.05"


def _one_line_error(out: subprocess.CompletedProcess[str], extra: str) -> None:
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"pip install 'lrkit[{extra}]'" in lines[0]


def test_command_without_the_cli_extra_prints_one_line() -> None:
    for command in (["list"], ["show", "cosine(start=1.0, steps=10)"], []):
        out = _python(
            "import sys; sys.argv[0] = 'lrkit'; from lrkit._entry import main; main()",
            block=("typer", "rich"),
            args=tuple(command),
        )
        _one_line_error(out, "cli")
        assert "the lrkit command needs typer" in out.stderr


def test_plot_command_without_the_plot_extra_prints_one_line(tmp_path: Path) -> None:
    pytest.importorskip("typer")
    out = _python(
        "import sys; sys.argv[0] = 'lrkit'; from lrkit._entry import main; main()",
        block=("matplotlib",),
        args=("plot", "cosine(start=1.0, steps=10)", "-o", str(tmp_path / "x.png")),
    )
    _one_line_error(out, "plot")


def test_python_m_lrkit_runs_the_command() -> None:
    pytest.importorskip("typer")
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run(
        [sys.executable, "-m", "lrkit", "show", "cosine(start=1.0, steps=10)"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "cosine" in out.stdout


def test_plotting_calls_without_matplotlib_name_the_extra() -> None:
    out = _python(
        """
        from lrkit._extras import MissingExtraError
        from lrkit.finder.result import RangeTestResult
        from lrkit.bench.presentation import plots
        result = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 0.5), smoothed=(1.0, 0.5))
        for call in (result.plot, lambda: plots._new_figure(1.0, 1.0)):
            try:
                call()
            except MissingExtraError as err:
                print(err)
        """,
        block=("matplotlib",),
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all("pip install 'lrkit[plot]'" in line for line in lines)


def test_bench_on_ray_without_ray_names_the_extra_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("typer")
    task = tmp_path / "quad.py"
    task.write_text(
        "def quad(run):\n"
        "    for step in range(run.steps):\n"
        "        run.log(step, loss=1.0 - run.hparams(step)['lr'])\n"
        "        if run.should_evaluate(step):\n"
        "            run.evaluate(step, val_loss=1.0)\n"
    )
    out = _python(
        "import sys; sys.argv[0] = 'lrkit'; from lrkit._entry import main; main()",
        block=("ray",),
        args=(
            *("bench", "-t", f"{task}:quad", "--steps", "5", "--lr", "0.1", "--seeds", "1"),
            *("--only", "constant"),
            *("--backend", "ray", "--out", str(tmp_path / "runs"), "--no-plots", "-q"),
        ),
    )
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert out.stderr.strip() == (
        "error: bench --backend ray needs the package ray (pip install 'lrkit[ray]')"
    )


def test_unsupported_step_types_get_a_schedule_type_error() -> None:
    import lrkit

    with pytest.raises(lrkit.ScheduleTypeError, match=r"got set"):
        lrkit.cosine(start=1.0, steps=10)({1, 2})  # type: ignore[arg-type]


def test_torch_tensors_use_the_builtin_namespace_with_numpy_values() -> None:
    torch = pytest.importorskip("torch")
    import numpy as np

    import lrkit

    s = lrkit.parse("warmup(10) >> cosine(start=0.1, end=0.001, steps=90).clip(low=0.01) * 2.0")
    grid = np.arange(120, dtype=np.float64)
    assert torch.equal(s(torch.arange(120)), torch.from_numpy(s(grid)))
    assert s(torch.tensor(55.0, dtype=torch.float64)).item() == s(55)
    assert s(torch.arange(120, dtype=torch.float32)).dtype == torch.float32


@pytest.mark.slow
def test_adapters_and_compat_need_only_their_framework() -> None:
    import importlib.util

    for framework in ("torch", "optax", "keras"):
        if importlib.util.find_spec(framework) is None:
            pytest.skip(f"needs {framework}")
    out = _python(
        """
        import os
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import lrkit.torch, lrkit.compat.torch, lrkit.compat.transformers, lrkit.compat.optax
        import lrkit.optax, lrkit.keras, lrkit.compat.keras, lrkit.finder
        print("ok")
        """,
        block=("typer", "matplotlib", "array_api_compat"),  # keras itself needs rich
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
