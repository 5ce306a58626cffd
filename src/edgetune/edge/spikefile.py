"""The spikes artifact (``data/spikes.npz``): binary extractor outputs, bit-packed.

Spikes are 0/1, so packing 8 per byte shrinks the file 8× (20k × 256 spikes: 640 KB instead
of 5 MB) and loading stays one ``np.unpackbits``. This module is the one place that knows the
layout; the spikes stage writes it and weights/sweep/table read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgetune.atomic import save_npz
from edgetune.errors import EdgetuneError


@dataclass(frozen=True)
class SpikeSet:
    """Spikes of both splits as uint8 0/1 arrays of shape (N, D), with labels and class names."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    classes: np.ndarray

    @property
    def width(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def num_classes(self) -> int:
        return int(len(self.classes))


def _check_binary(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        x = x.reshape(len(x), -1)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise EdgetuneError(f"spikes {name}: values must be 0/1 (got range {x.min()}..{x.max()})")
    return x.astype(np.uint8)


def save_spikes(path: str | Path, spikes: SpikeSet) -> None:
    """Write a SpikeSet bit-packed, atomically; (N, 1, 1, D) inputs are flattened to (N, D)."""
    x_train = _check_binary("x_train", spikes.x_train)
    x_val = _check_binary("x_val", spikes.x_val)
    if x_train.shape[1] != x_val.shape[1]:
        raise EdgetuneError(f"spikes: train width {x_train.shape[1]} != val width {x_val.shape[1]}")
    save_npz(
        path,
        width=np.int64(x_train.shape[1]),
        x_train_bits=np.packbits(x_train, axis=1),
        x_val_bits=np.packbits(x_val, axis=1),
        y_train=np.asarray(spikes.y_train, dtype=np.int32),
        y_val=np.asarray(spikes.y_val, dtype=np.int32),
        classes=np.asarray(spikes.classes).astype(str),
    )


def load_spikes(path: str | Path) -> SpikeSet:
    path = Path(path)
    required = ("width", "x_train_bits", "x_val_bits", "y_train", "y_val", "classes")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in required if k not in f.files]
            if missing:
                raise EdgetuneError(f"{path}: missing field(s) {missing}; rerun the spikes stage (dvc repro spikes)")
            width = int(f["width"])
            x_train = np.unpackbits(f["x_train_bits"], axis=1, count=width)
            x_val = np.unpackbits(f["x_val_bits"], axis=1, count=width)
            return SpikeSet(x_train, f["y_train"].astype(np.int32), x_val, f["y_val"].astype(np.int32), f["classes"])
    except FileNotFoundError:
        raise EdgetuneError(f"{path}: not found; run the spikes stage first (dvc repro spikes)") from None
    except (OSError, ValueError) as exc:
        raise EdgetuneError(f"{path}: not a readable spikes file ({exc}); rerun dvc repro spikes") from None
