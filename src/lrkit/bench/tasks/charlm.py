"""Task ``charlm``: a tiny character-level GRU language model on the Python stdlib's own source.

Text: the source files listed in ``SOURCES`` (read from ``sysconfig.get_paths()["stdlib"]`` in
that order, joined with a newline, about 260 KB; the exact text follows the running Python
version; the few non-ASCII characters become "?"). Vocabulary: the sorted set of characters of
the text (about 97). Split by position: the first
90 % trains, the last 10 % validates. Model: Embedding(V, 32) -> GRU(32, 64, 1 layer) ->
Linear(64, V). Training batches are 32 random windows of 32 characters (offsets from the run's
generator); validation is a fixed set of ``N_VAL_BATCHES`` batches of evenly spaced windows.
``val_loss`` is the mean next-character cross-entropy in nats per character; ``bits_per_char``
is val_loss / ln 2; ``val_accuracy`` is the next-character accuracy.
"""

from __future__ import annotations

import math
import os
import sysconfig
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from lrkit.bench.tasks.base import TaskConfig, TaskSpec, Trainer, require

if TYPE_CHECKING:
    import torch

__all__ = ["SOURCES", "load_text", "make", "task"]

SOURCES: tuple[str, ...] = (
    "bisect.py",
    "calendar.py",
    "colorsys.py",
    "fnmatch.py",
    "fractions.py",
    "functools.py",
    "glob.py",
    "heapq.py",
    "pprint.py",
    "shlex.py",
    "statistics.py",
    "string.py",
    "textwrap.py",
)
MAX_CHARS = 400_000
VAL_SHARE = 0.1
SEQ_LEN = 32
BATCH_SIZE = 32
N_VAL_BATCHES = 8
EMBED = 32
HIDDEN = 64


@lru_cache(maxsize=1)
def load_text() -> str:
    """The text: the files in ``SOURCES`` joined with newlines, non-ASCII characters replaced
    by "?", at most MAX_CHARS characters.

    >>> text = load_text()
    >>> 100_000 < len(text) <= MAX_CHARS, "def " in text
    (True, True)
    """
    root = sysconfig.get_paths()["stdlib"]
    parts = []
    for name in SOURCES:
        path = os.path.join(root, name)
        try:
            with open(path, encoding="utf-8") as f:
                parts.append(f.read())
        except OSError as exc:
            raise FileNotFoundError(
                f"charlm: cannot read the stdlib source file {path!r} ({exc}); this task needs "
                f"a Python installation that ships its .py sources"
            ) from exc
    return "\n".join(parts).encode("ascii", "replace").decode("ascii")[:MAX_CHARS]


@lru_cache(maxsize=1)
def encoded() -> tuple[np.ndarray, np.ndarray, int]:
    """``(train_ids, val_ids, vocab_size)``: the text as int64 ids, split by position."""
    text = load_text()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    cut = int(len(ids) * (1 - VAL_SHARE))
    train, val = ids[:cut], ids[cut:]
    train.setflags(write=False)
    val.setflags(write=False)
    return train, val, len(vocab)


def make(config: TaskConfig) -> Trainer:
    """Build a charlm trainer for ``config``."""
    spec = task()
    require(spec.name, *spec.requires)
    import torch
    from torch import nn

    from lrkit.bench.tasks import _torch

    generator = _torch.setup(spec, config)
    train_np, val_np, vocab = encoded()
    train_ids, val_ids = torch.from_numpy(train_np.copy()), torch.from_numpy(val_np.copy())
    batch_size = config.batch_size or BATCH_SIZE

    class CharGRU(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # _weight skips the default init (normal_ on the meta device is slow to set up);
            # init_module_ draws it from the run's generator.
            self.embed = nn.Embedding(vocab, EMBED, _weight=torch.empty(vocab, EMBED))
            self.gru = nn.GRU(EMBED, HIDDEN, num_layers=1, batch_first=True)
            self.head = nn.Linear(HIDDEN, vocab)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.gru(self.embed(x))
            logits: torch.Tensor = self.head(out)
            return logits

    model = _torch.build(CharGRU, generator)
    window = torch.arange(SEQ_LEN + 1)
    n_starts = len(train_ids) - SEQ_LEN - 1

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(0, n_starts + 1, (batch_size,), generator=generator)
        chunk = train_ids[starts[:, None] + window]
        return chunk[:, :-1], chunk[:, 1:]

    n_val = N_VAL_BATCHES * BATCH_SIZE
    val_starts = torch.linspace(0, len(val_ids) - SEQ_LEN - 1, n_val).to(torch.long)
    val_all = val_ids[val_starts[:, None] + window]
    val_chunks = [val_all[i : i + BATCH_SIZE] for i in range(0, n_val, BATCH_SIZE)]

    def loss_fn(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = m(x)
        return nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))

    def eval_fn(m: nn.Module) -> dict[str, float]:
        total, correct, count = 0.0, 0, 0
        for chunk in val_chunks:
            logits = m(chunk[:, :-1]).reshape(-1, vocab)
            targets = chunk[:, 1:].reshape(-1)
            total += float(nn.functional.cross_entropy(logits, targets, reduction="sum"))
            correct += int((logits.argmax(dim=-1) == targets).sum())
            count += targets.numel()
        loss = total / count
        return {
            "val_loss": loss,
            "bits_per_char": loss / math.log(2),
            "val_accuracy": correct / count,
        }

    return _torch.trainer(spec, config, model, next_batch, loss_fn, eval_fn)


def task() -> TaskSpec:
    """The ``charlm`` TaskSpec."""
    return TaskSpec(
        name="charlm",
        description=(
            "char-level GRU (embed 32, hidden 64) on ~260 KB of the Python stdlib's own source; "
            "val_loss in nats/char on a fixed set of validation windows"
        ),
        steps=300,
        lr=1.0,
        momentum=0.9,
        eval_every=50,
        target_metric="val_loss",
        target_value=2.0,
        higher_is_better=False,
        optimizers=("sgd", "adamw", "sgd-schedulefree", "adamw-schedulefree"),
        requires=("torch",),
        make=make,
        batch_size=BATCH_SIZE,
        optimizer_lrs=(("adamw", 0.03), ("sgd-schedulefree", 10.0), ("adamw-schedulefree", 0.03)),
    )
