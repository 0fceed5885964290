"""The schedule gallery: one plot per registered schedule (its registry example).

The docs site builds its gallery page from :func:`gallery_page` and :func:`schedule_png` at build
time (see docs/hooks.py), so it always shows every registered schedule. Run as a script to write the
single overview image docs/gallery/families.png used by the README:

.venv/bin/python docs/gallery.py
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

import lrkit

COLOR = "#1f5fa8"


def gallery_names() -> list[str]:
    """Every registered schedule except aliases, in registry order."""
    return [n for n in lrkit.registry.names() if lrkit.registry.get(n).kind != "alias"]


def _curve(name: str) -> tuple[Any, np.ndarray, np.ndarray]:
    schedule = lrkit.parse(lrkit.registry.get(name).example)
    end = schedule.duration
    span = int(end * 1.15) + 2 if end else 300
    steps = np.arange(span)
    return schedule, steps, np.asarray(schedule(steps))


def schedule_png(name: str) -> bytes:
    """A small PNG of the registry example of ``name`` (matplotlib's object API, no pyplot)."""
    from matplotlib.figure import Figure

    _, steps, values = _curve(name)
    fig = Figure(figsize=(4.2, 2.2), dpi=100)
    ax = fig.add_subplot()
    ax.plot(steps, values, color=COLOR, linewidth=1.8)
    ax.set_xlabel("step", fontsize=8)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    fig.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def api_anchor(name: str) -> str:
    """The API reference entry of a registered schedule: ``lrkit.<name>``, a ``Schedule`` method
    (``repeat``, ``clip``...), or ``Schedule`` itself for the operators (``scale`` is ``s * k``)."""
    if name in lrkit.__all__:
        return f"lrkit.{name}"
    if callable(getattr(lrkit.Schedule, name, None)):
        return f"lrkit.Schedule.{name}"
    return "lrkit.Schedule"


def gallery_page(image_dir: str = "gallery/schedules") -> str:
    """The Markdown of the gallery page: per schedule its summary, its text form and its plot."""
    kinds = {"leaf": "Leaves", "combinator": "Combinators", "preset": "Presets"}
    lines = [
        "# Schedule gallery",
        "",
        "Every schedule in lrkit's registry, drawn from its registry example at docs build time",
        "(so this page always lists them all). Each text form below is valid input to",
        "`lrkit.parse`, `lrkit show` and `lrkit plot`; see [Schedules](schedules.md) for the",
        "algebra and the [API reference](api/lrkit.md) for the arguments.",
        "",
    ]
    for kind, title in kinds.items():
        names = [n for n in gallery_names() if lrkit.registry.get(n).kind == kind]
        if not names:
            continue
        lines += [f"## {title}", "", '<div class="grid" markdown>', ""]
        for name in names:
            entry = lrkit.registry.get(name)
            lines += [
                '<div class="card" markdown>',
                "",
                f"### {name}",
                "",
                entry.summary,
                "",
                f"`{lrkit.parse(entry.example)}`",
                "",
                f"[Arguments in the API reference](api/lrkit.md#{api_anchor(name)})",
                "",
                f"![{name}]({image_dir}/{name}.png)",
                "",
                "</div>",
                "",
            ]
        lines += ["</div>", ""]
    return "\n".join(lines)


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = gallery_names()
    cols = 5
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.5 * rows), dpi=90)
    for ax, name in zip(axes.flat, names, strict=False):
        schedule, steps, values = _curve(name)
        ax.plot(steps, values, color=COLOR, linewidth=1.6)
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
