"""report.md, results.json and PNGs from runs.jsonl, including edge cases (divergence, 1 seed)."""

from __future__ import annotations

import json
from pathlib import Path

from lrkit.bench.driver import run_bench
from lrkit.bench.planning.config import BenchConfig
from lrkit.bench.presentation.report import build_report

FAKE = "test_bench_runner:fake_task"


def test_report_files_with_diverged_schedule_and_single_seed(tmp_path: Path) -> None:
    cfg = BenchConfig(
        name="r",
        tasks=(FAKE,),
        seeds=1,
        out=str(tmp_path),
        quiet=True,
        backend="serial",
        only=("constant", "cosine", "boom"),
        bootstrap=200,
        schedules=({"name": "boom", "lr": "constant(30.0)"},),  # 30 x 0.1 = 3 > 2: diverges
    )
    out = run_bench(cfg)
    assert out.errors == 0
    run = tmp_path / "r"
    pngs = sorted(p.name for p in run.glob("*.png"))
    assert len(pngs) == 3
    for p in run.glob("*.png"):
        assert 1_000 < p.stat().st_size < 300_000
    res = json.loads((run / "results.json").read_text())
    t = res["tasks"]["fake"]
    assert t["schedules"]["boom"]["diverged"] == 1
    assert t["ranking"][-1]["name"] == "boom"
    text = (run / "report.md").read_text()
    assert "boom (1/1 seeds)" in text and "(diverged 1/1)" in text
    # rebuilt report is identical apart from the timestamp
    before = json.loads((run / "results.json").read_text())
    build_report(run, plots=False)
    after = json.loads((run / "results.json").read_text())
    before.pop("generated"), after.pop("generated")
    assert before == after
