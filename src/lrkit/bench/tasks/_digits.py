"""The digits data set shared by ``digits-mlp`` and ``digits-numpy`` (needs scikit-learn).

sklearn's bundled 8x8 digits (1797 images, offline), a fixed stratified split of 1437 training
and 360 validation images (``train_test_split(test_size=360, stratify=y, random_state=0)``),
standardised with the training mean and standard deviation (constant pixels get std 1).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from lrkit.bench.tasks.base import require

__all__ = ["N_CLASSES", "N_FEATURES", "N_TRAIN", "N_VAL", "load"]

N_FEATURES = 64
N_CLASSES = 10
N_VAL = 360
N_TRAIN = 1797 - N_VAL
SPLIT_SEED = 0


@lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    require("digits", "sklearn")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=N_VAL, stratify=y, random_state=SPLIT_SEED
    )
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    arrays = (
        ((x_train - mean) / std).astype(np.float64),
        y_train.astype(np.int64),
        ((x_val - mean) / std).astype(np.float64),
        y_val.astype(np.int64),
    )
    for a in arrays:
        a.setflags(write=False)
    return arrays


def load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_val, y_val)``: shapes (1437, 64), (1437,), (360, 64), (360,);
    float64 (standardised) and int64, read-only, loaded once per process."""
    return _load()
