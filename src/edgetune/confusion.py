"""Confusion matrices: one row per validation sample (``actual``, ``predicted`` class names) in a CSV.

That is the form DVC's ``confusion`` and ``confusion_normalized`` templates draw (dvc.yaml,
``dvc plots show`` / ``dvc plots diff``); the report draws the same CSV as a PNG and names the
most confused pairs. Rows keep the validation order, so the same predictions give the same bytes.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgetune.atomic import write_text
from edgetune.errors import EdgetuneError

COLUMNS = ("actual", "predicted")


def write_confusion_csv(path: str | os.PathLike, y_true: np.ndarray, y_pred: np.ndarray | None,
                        classes) -> None:
    """Write the CSV; ``y_pred`` None (no classifier to score) writes the header alone."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    if y_pred is not None:
        names = [str(c) for c in classes]
        writer.writerows((names[int(a)], names[int(p)]) for a, p in zip(y_true, y_pred))
    write_text(path, buffer.getvalue())


def read_confusion_csv(path: str | os.PathLike) -> list[tuple[str, str]]:
    path = Path(path)
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or tuple(header) != COLUMNS:
                raise EdgetuneError(f"{path}: not a confusion CSV (header {header}, expected {','.join(COLUMNS)})")
            return [(a, p) for a, p in reader]
    except FileNotFoundError:
        raise EdgetuneError(f"{path}: missing; rerun dvc repro") from None


@dataclass(frozen=True)
class Matrix:
    classes: list[str]  # in order of first appearance as actual, then predicted-only names
    counts: np.ndarray  # counts[i, j]: samples of class i predicted as j

    @property
    def normalized(self) -> np.ndarray:
        totals = self.counts.sum(axis=1, keepdims=True)
        return np.divide(self.counts, totals, out=np.zeros(self.counts.shape), where=totals > 0)


def matrix(rows: list[tuple[str, str]]) -> Matrix:
    classes: list[str] = []
    for name in [a for a, _ in rows] + [p for _, p in rows]:
        if name not in classes:
            classes.append(name)
    index = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for a, p in rows:
        counts[index[a], index[p]] += 1
    return Matrix(classes, counts)


@dataclass(frozen=True)
class Pair:
    actual: str
    predicted: str
    count: int
    fraction: float  # of the actual class's samples


def most_confused(m: Matrix, k: int = 5) -> list[Pair]:
    """The ``k`` (actual, predicted) pairs with most mistakes; ties by names, for a stable order."""
    norm = m.normalized
    pairs = [Pair(m.classes[i], m.classes[j], int(m.counts[i, j]), float(norm[i, j]))
             for i in range(len(m.classes)) for j in range(len(m.classes)) if i != j and m.counts[i, j] > 0]
    return sorted(pairs, key=lambda p: (-p.count, p.actual, p.predicted))[:k]


def draw(m: Matrix, path: str | os.PathLike, title: str) -> None:
    """Row-normalised matrix as a PNG (each row: where that class's samples went)."""
    from edgetune.charts import new_figure, save_png

    size = max(5.0, 0.28 * len(m.classes) + 2)
    fig, ax = new_figure(size + 1.2, size)
    image = ax.imshow(m.normalized, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(m.classes))
    ax.set_xticks(ticks, m.classes, rotation=90, fontsize=7)
    ax.set_yticks(ticks, m.classes, fontsize=7)
    ax.set(xlabel="predicted", ylabel="actual", title=title)
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the actual class")
    save_png(fig, path)
