"""Draw one small plot per registered schedule (its registry example): docs/gallery/families.png.

.venv/bin/python docs/gallery.py
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import lrkit


def main() -> None:
    names = [n for n in lrkit.registry.names() if lrkit.registry.get(n).kind != "alias"]
    cols = 5
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.5 * rows), dpi=90)
    for ax, name in zip(axes.flat, names, strict=False):
        schedule = lrkit.parse(lrkit.registry.get(name).example)
        end = schedule.duration
        span = int(end * 1.15) + 2 if end else 300
        steps = np.arange(span)
        ax.plot(steps, schedule(steps), color="#1f5fa8", linewidth=1.6)
        ax.set_title(name, fontsize=11)
        text = str(schedule)
        ax.text(
            0.02,
            -0.3,
            text if len(text) < 60 else text[:57] + "...",
            transform=ax.transAxes,
            fontsize=6.5,
            color="#444",
        )
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle("lrkit: one example per registered schedule (x: step, y: value)", fontsize=13)
    fig.tight_layout()
    out = Path(__file__).with_name("gallery") / "families.png"
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
