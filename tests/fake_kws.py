"""A learnable fake KWS dataset for tests: each class is a fixed MFCC-like template plus noise.

Real speech is not needed to test the extractor's machinery; what matters is that classes differ
(so training learns something and spikes carry information) and that the file follows the
dataset contract (uint8 (N, 49, 10, 1), saved with ``save_dataset``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgetune.dataset import KwsDataset, save_dataset


def make_fake_kws(num_classes: int = 4, train_per_class: int = 40, val_per_class: int = 10,
                  noise: float = 40.0, seed: int = 0) -> KwsDataset:
    rng = np.random.default_rng(seed)
    templates = rng.uniform(40, 215, size=(num_classes, 49, 10))

    def split(per_class: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.repeat(np.arange(num_classes, dtype=np.int32), per_class)
        shift = rng.integers(-3, 4, size=len(y))  # the word starts a little earlier or later
        x = np.stack([np.roll(templates[c], s, axis=0) for c, s in zip(y, shift)])
        x = x + rng.normal(0, noise, size=x.shape)
        order = rng.permutation(len(y))
        return np.clip(x, 0, 255).astype(np.uint8)[order, ..., None], y[order]

    x_train, y_train = split(train_per_class)
    x_val, y_val = split(val_per_class)
    classes = np.array([f"word{i}" for i in range(num_classes)])
    return KwsDataset(x_train, y_train, x_val, y_val, classes, meta={"source": "fake"})


def save_fake_kws(path: str | Path, **kwargs) -> KwsDataset:
    ds = make_fake_kws(**kwargs)
    save_dataset(path, ds)
    return ds
