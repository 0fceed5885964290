"""Bench runner, records and resume: a fake task (pure Python) so these tests are fast."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from lrkit.bench.driver import run_bench
from lrkit.bench.execution.records import (
    RecordWarning,
    RunsFile,
    decimate,
    latest_by_key,
    read_records,
)
from lrkit.bench.execution.runner import make_job, run_job
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.planning.suite import DEFAULT_SUITE, SuiteEntry
from lrkit.bench.tasks import TaskConfig, TaskSpec

FAKE = "test_bench_runner:fake_task"
BOOM = "test_bench_runner:boom_task"


class FakeTrainer:
    """Noisy gradient descent on w**2 / 2 from w0 = 2 (+ seed noise); lr > 2 diverges."""

    def __init__(self, config: TaskConfig) -> None:
        self.rng = np.random.default_rng(config.seed)
        self.w = 2.0 + 0.1 * config.seed
        self.seen: list[dict[str, float]] = []

    def train_step(self, hparams: Mapping[str, float]) -> float:
        self.seen.append(dict(hparams))
        grad = self.w + 0.05 * float(self.rng.standard_normal())
        self.w -= hparams["lr"] * grad
        return 0.5 * self.w**2 if math.isfinite(self.w) and abs(self.w) < 1e6 else math.inf

    def evaluate(self) -> dict[str, float]:
        loss = 0.5 * self.w**2
        return {"val_loss": loss, "val_accuracy": 1.0 / (1.0 + loss)}


LAST: list[FakeTrainer] = []


def _make(config: TaskConfig) -> FakeTrainer:
    t = FakeTrainer(config)
    LAST.append(t)
    return t


def fake_task() -> TaskSpec:
    return TaskSpec(
        name="fake",
        description="w**2/2",
        steps=60,
        lr=0.1,
        momentum=0.9,
        eval_every=10,
        target_metric="val_accuracy",
        target_value=0.9,
        higher_is_better=True,
        optimizers=("sgd", "sgd-schedulefree"),
        requires=(),
        make=_make,  # type: ignore[arg-type]
    )


class _Boom:
    def __init__(self, config: TaskConfig) -> None:
        if config.seed == 1:
            raise RuntimeError("boom on seed 1")
        self.inner = FakeTrainer(config)

    def train_step(self, hparams: Mapping[str, float]) -> float:
        return self.inner.train_step(hparams)

    def evaluate(self) -> dict[str, float]:
        return self.inner.evaluate()


def boom_task() -> TaskSpec:
    return TaskSpec(
        name="boom",
        description="fails on seed 1",
        steps=20,
        lr=0.1,
        momentum=0.9,
        eval_every=5,
        target_metric="val_loss",
        target_value=0.1,
        higher_is_better=False,
        optimizers=("sgd",),
        requires=(),
        make=_Boom,  # type: ignore[arg-type]
    )


def _job(entry: SuiteEntry, lr: float = 0.1, seed: int = 0, steps: int = 60):  # type: ignore[no-untyped-def]
    return make_job(
        task=FAKE,
        entry=entry,
        peak_lr=lr,
        seed=seed,
        steps=steps,
        eval_every=10,
        optimizer="sgd",
        batch_size=None,
        purpose="main",
        target_metric="val_accuracy",
        target_value=0.9,
        higher_is_better=True,
    )


def _cfg(tmp_path: Path, **kw: object) -> BenchConfig:
    base: dict[str, object] = {
        "name": "t",
        "tasks": (FAKE,),
        "seeds": 2,
        "out": str(tmp_path),
        "quiet": True,
        "backend": "serial",
        "only": ("constant", "cosine", "one-cycle"),
        "plots": False,
        "bootstrap": 200,
    }
    base.update(kw)
    return BenchConfig(**base)  # type: ignore[arg-type]


def test_run_job_feeds_precomputed_schedule_and_momentum_to_trainer() -> None:
    entry = next(e for e in DEFAULT_SUITE if e.name == "one-cycle+momentum")
    LAST.clear()
    rec = run_job(_job(entry))
    assert rec["status"] == "ok", rec.get("error")
    lr, mom = entry.build(0.1, 60)
    seen = LAST[-1].seen
    assert [h["lr"] for h in seen] == pytest.approx(list(lr(np.arange(60))), rel=1e-12)
    assert [h["momentum"] for h in seen] == pytest.approx(list(mom(np.arange(60))))
    assert rec["evals"]["step"] == [0, 10, 20, 30, 40, 50, 60]
    assert rec["final"]["val_loss"] == rec["evals"]["val_loss"][-1]
    assert rec["curves"]["lr"] == pytest.approx(list(lr(np.arange(60))))
    assert rec["time"]["inside"] <= rec["time"]["loop"]


def test_run_job_steps_to_target_is_first_evaluation_meeting_it() -> None:
    rec = run_job(_job(DEFAULT_SUITE[0], lr=0.1))
    acc = rec["evals"]["val_accuracy"]
    first = next(s for s, a in zip(rec["evals"]["step"], acc, strict=True) if a >= 0.9)
    assert rec["steps_to_target"] == first


def test_run_job_divergence_stops_and_marks_record() -> None:
    rec = run_job(_job(DEFAULT_SUITE[0], lr=5.0))
    assert rec["status"] == "diverged"
    assert rec["steps_done"] < 60
    assert rec["final"]["val_loss"] is None
    json.dumps(rec, allow_nan=False)  # strict JSON even for a diverged run


def test_plateau_entry_reduces_lr_after_patience_evaluations() -> None:
    entry = SuiteEntry(
        "p", "constant(1.0)", plateau={"factor": 0.5, "patience": 0, "threshold": 10.0}
    )
    rec = run_job(_job(entry, lr=0.1))
    # threshold=10 (rel) means no evaluation ever counts as better: a reduction per evaluation
    assert rec["plateau_reductions"] == 6
    seen = [h["lr"] for h in LAST[-1].seen]
    assert seen[9] == pytest.approx(0.1) and seen[10] == pytest.approx(0.05)
    assert seen[59] == pytest.approx(0.1 * 0.5**5)


def test_decimate_keeps_at_most_500_points_and_bin_means() -> None:
    x = np.arange(10_000, dtype=float)
    steps, vals = decimate(x, mode="mean")
    assert len(steps) == 500 and steps[-1] == 9999
    assert vals[0] == pytest.approx(np.mean(x[:20]))
    steps, vals = decimate(x)
    assert len(steps) == 500 and steps[0] == 0 and steps[-1] == 9999 and vals[-1] == 9999.0


def _minimal(key: str) -> dict[str, object]:
    # the smallest record read_records accepts (records are validated on read)
    return {"key": key, "status": "error", "task": "t", "schedule": "s", "seed": 0, "error": "x"}


def test_runs_file_repairs_torn_tail_and_skips_garbled_lines(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    with RunsFile(path) as f:
        f.append(_minimal("a"))
        f.append(_minimal("b"))
    with path.open("ab") as fh:
        fh.write(b'{"key": "c", "sta')  # killed mid-write
    with RunsFile(path) as f:
        assert f.repaired
        f.append(_minimal("d"))
    assert [r["key"] for r in read_records(path)] == ["a", "b", "d"]
    # a garbled line in the middle is skipped (with a warning), the rest still read
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"\x00garbage{"
    path.write_bytes(b"\n".join(lines))
    with pytest.warns(RecordWarning, match="skipped 1 incomplete or malformed"):
        assert [r["key"] for r in read_records(path)] == ["a", "d"]
    assert latest_by_key([{"key": "a", "v": 1}, {"key": "a", "v": 2}])["a"]["v"] == 2


def test_bench_writes_jsonl_and_resumes_after_crash(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    out = run_bench(cfg)
    assert (out.ran, out.skipped, out.errors) == (6, 0, 0)
    runs = tmp_path / "t" / "runs.jsonl"
    recs = read_records(runs)
    assert len(recs) == 6 and {r["schedule"] for r in recs} == {"constant", "cosine", "one-cycle"}
    # simulate kill -9 during the last write: cut the last line in half
    data = runs.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    runs.write_bytes(data[: last_start + (len(data) - last_start) // 2])
    out = run_bench(cfg)
    assert (out.ran, out.skipped) == (1, 5)
    recs = read_records(runs)
    assert len(recs) == 6 and len({r["key"] for r in recs}) == 6
    # garbled last line (complete but not JSON): also rerun, with a warning that counts it
    runs.write_bytes(runs.read_bytes().rstrip(b"\n")[:-5] + b"#####\n")
    with pytest.warns(RecordWarning, match="skipped 1 incomplete or malformed"):
        out = run_bench(cfg)
        assert (out.ran, out.skipped) == (1, 5)
        # nothing left: a rerun skips everything
        out = run_bench(cfg)
        assert (out.ran, out.skipped) == (0, 6)
    res = json.loads((tmp_path / "t" / "results.json").read_text())
    assert res["schema"] == "lrkit.bench/1"
    assert set(res["tasks"]["fake"]["schedules"]) == {"constant", "cosine", "one-cycle"}


def test_bench_key_changes_with_peak_lr_and_steps(tmp_path: Path) -> None:
    run_bench(_cfg(tmp_path, only=("constant",), seeds=1))
    assert run_bench(_cfg(tmp_path, only=("constant",), seeds=1)).ran == 0
    assert run_bench(_cfg(tmp_path, only=("constant",), seeds=1, lr=0.2)).ran == 1
    assert run_bench(_cfg(tmp_path, only=("constant",), seeds=1, steps=30)).ran == 1


def test_bench_error_runs_are_recorded_and_retried(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, tasks=(BOOM,), only=("constant",))
    out = run_bench(cfg)
    assert out.errors == 1 and "boom on seed 1" in out.error_messages[0]
    out = run_bench(cfg)
    assert (out.ran, out.errors) == (1, 1)  # the errored run is retried, the good one skipped


def test_tune_lr_picks_best_grid_value_on_separate_seed(tmp_path: Path) -> None:
    cfg = _cfg(
        tmp_path,
        only=("constant",),
        seeds=1,
        lr_mode="tune",
        tune_factors=(0.1, 1.0, 5.0),
        lr=0.1,
        tune_seeds=1,
        tune_extensions=0,
    )
    run_bench(cfg)
    recs = read_records(tmp_path / "t" / "runs.jsonl")
    tune = [r for r in recs if r["purpose"] == "tune"]
    assert sorted(r["peak_lr"] for r in tune) == pytest.approx([0.01, 0.1, 0.5])
    assert {r["seed"] for r in tune} == {cfg.tune_seed}
    best = min(tune, key=lambda r: r["final"]["val_loss"])
    (main,) = [r for r in recs if r["purpose"] == "main"]
    assert main["peak_lr"] == best["peak_lr"] == pytest.approx(0.5)


def test_lr_from_finder_gives_each_shape_the_finders_rule_for_it(tmp_path: Path) -> None:
    from lrkit.bench.execution.range_test import range_test_task
    from lrkit.finder.recommend import DEFAULT_RULES, peak_rule

    cfg = _cfg(tmp_path, seeds=1, lr_mode="finder")
    run_bench(cfg)
    peaks = {r["schedule"]: r["peak_lr"] for r in read_records(tmp_path / "t" / "runs.jsonl")}
    meta = json.loads((tmp_path / "t" / "bench.json").read_text())
    source = meta["plans"][0]["lr_source"]
    # the same range test again (the task's 60 steps, tune seed), read by each shape's rule
    result = range_test_task(FAKE, "sgd", cfg.tune_seed, start=1e-6, end=10.0, num_steps=60)
    # constant: no rule measured for its shape, recommend()'s default policy's (one-cycle's)
    for name, policy in (
        ("cosine", "cosine"),
        ("one-cycle", "one_cycle"),
        ("constant", "one_cycle"),
    ):
        rule = peak_rule(DEFAULT_RULES[policy])
        assert source[name] == f"range test ({rule.name})"
        assert peaks[name] == pytest.approx(rule.peak(result, "sgd"), rel=1e-12)
    assert min(peaks.values()) > 1e-6 and max(peaks.values()) < 10.0 * 4


def test_lr_from_finder_rerun_reuses_the_stored_range_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lrkit.bench.execution import range_test as rt

    calls: list[str] = []
    real = rt.range_test_task

    def counted(task: str, *args: object, **kwargs: object) -> object:
        calls.append(task)
        return real(task, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rt, "range_test_task", counted)
    cfg = _cfg(tmp_path, seeds=1, lr_mode="finder", quiet=False)
    first: list[str] = []
    run_bench(cfg, log=first.append)
    meta = json.loads((tmp_path / "t" / "bench.json").read_text())
    assert calls == [FAKE] and (tmp_path / "t" / rt.RANGE_TESTS_NAME).is_file()
    again: list[str] = []
    out = run_bench(cfg, log=again.append)
    assert calls == [FAKE] and out.ran == 0  # no second range test, every run skipped
    assert f"range test on fake (sgd): reused from {tmp_path / 't' / rt.RANGE_TESTS_NAME}" in again
    rerun = json.loads((tmp_path / "t" / "bench.json").read_text())
    assert rerun["plans"][0]["peak_lr"] == meta["plans"][0]["peak_lr"]
    run_bench(cfg.with_(steps=30), log=again.append)  # another sweep (30 steps): tested again
    assert calls == [FAKE, FAKE]
    run_bench(cfg, log=again.append)  # both kept
    assert calls == [FAKE, FAKE]


def test_a_malformed_range_test_store_is_said_and_replaced(tmp_path: Path) -> None:
    from lrkit.bench.execution import range_test as rt

    cfg = _cfg(tmp_path, seeds=1, lr_mode="finder", only=("constant",))
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / rt.RANGE_TESTS_NAME).write_text("{not json")
    lines: list[str] = []
    run_bench(cfg, log=lines.append)
    assert any("unreadable (not JSON" in x for x in lines)
    data = json.loads((tmp_path / "t" / rt.RANGE_TESTS_NAME).read_text())
    assert data["format"] == "lrkit.bench.range_tests/1" and len(data["tests"]) == 1
