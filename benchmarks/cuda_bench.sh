#!/usr/bin/env bash
# A small CUDA check of `lrkit bench --gpus-per-run` (run it on a machine with >= 1 GPU):
#   bash benchmarks/cuda_bench.sh [OUT]        (about 1-2 min on one GPU)
# It writes a function task that trains a small MLP on the GPU it is given (run.device), runs
# 3 schedules x 2 seeds with one GPU per run (workers = GPUs // 1) and prints, per run, the GPU
# each worker saw and whether the model ran on CUDA, then the report's recommendation.
set -euo pipefail
OUT=${1:-$(mktemp -d)}
PY=${PYTHON:-python}
LRKIT=${LRKIT:-lrkit}
mkdir -p "$OUT"
cat > "$OUT/cuda_task.py" <<'PYEOF'
import os

import torch
import torch.nn.functional as F

import lrkit.bench as lb


@lb.task(name="cuda-mlp", steps=400, lr=3e-3, eval_every=50, target=("val_accuracy", 0.9))
def train(run: lb.Run) -> None:
    assert run.device == "cuda" and torch.cuda.is_available(), run.device
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(4096, 64, generator=g)
    y = (x[:, :8].sum(dim=1) > 0).long()
    x, y = x.to(run.device), y.to(run.device)
    xt, yt, xv, yv = x[:3584], y[:3584], x[3584:], y[3584:]
    torch.manual_seed(run.seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 2)
    ).to(run.device)
    opt = torch.optim.AdamW(model.parameters(), lr=run.lr)
    sched = run.scheduler(opt)
    bg = torch.Generator(device=run.device).manual_seed(run.seed)
    for step in range(run.steps):
        idx = torch.randint(0, xt.shape[0], (128,), device=run.device, generator=bg)
        loss = F.cross_entropy(model(xt[idx]), yt[idx])
        loss.backward(); opt.step(); sched.step(); opt.zero_grad()
        run.log(step, loss=loss.item())
        if run.should_evaluate(step):
            with torch.no_grad():
                logits = model(xv)
            run.evaluate(
                step,
                val_loss=F.cross_entropy(logits, yv).item(),
                val_accuracy=(logits.argmax(1) == yv).float().mean().item(),
                gpu=float(os.environ.get("CUDA_VISIBLE_DEVICES", "-1").split(",")[0]),
                on_cuda=float(next(model.parameters()).is_cuda),
            )
PYEOF
"$PY" -c "import torch; n = torch.cuda.device_count(); print('GPUs visible:', n); assert n >= 1"
time "$LRKIT" bench -t "$OUT/cuda_task.py:train" --gpus-per-run 1 --seeds 2 \
    -s constant -s cosine -s wsd --name cuda --out "$OUT/runs" --no-plots
"$PY" - "$OUT/runs/cuda" <<'PYEOF'
import json, sys
from pathlib import Path

run = Path(sys.argv[1])
for line in (run / "runs.jsonl").read_text().splitlines():
    r = json.loads(line)
    ev = r.get("evals") or {}
    wall = (r.get("time") or {}).get("wall", float("nan"))
    print(f"{r['schedule']:>8} seed {r['seed']}: {r['status']}, GPU {ev.get('gpu', ['?'])[0]}, "
          f"on CUDA {ev.get('on_cuda', ['?'])[0]}, "
          f"val acc {(r.get('final') or {}).get('val_accuracy')}, {wall:.1f} s "
          f"{r.get('error') or ''}")
res = json.loads((run / "results.json").read_text())
for task, t in res["tasks"].items():
    print(f"{task}: {t['recommendation']}")
PYEOF
