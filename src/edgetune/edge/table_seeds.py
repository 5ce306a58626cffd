"""The table's inputs: each ``table-train`` item's two files, read, checked current, and paired per value.

One file per seed in ``table.seeds``, never a glob: a seed removed from params leaves its files
behind, and they must not come back. A file made with other params, or timed another way, is
stale and refused with the command that remakes it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgetune.edge.table_train import TIMING_VERSION, result_path, time_path
from edgetune.errors import EdgetuneError
from edgetune.params import TableParams


def _read(path: Path, redo: str) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgetuneError(f"{path}: not found; {redo}") from None
    except json.JSONDecodeError as exc:
        raise EdgetuneError(f"{path}: not valid JSON ({exc}); {redo}") from None


def _check_current(path: Path, found: dict, expected: dict, redo: str) -> dict:
    for key, value in expected.items():
        if found.get(key) != value:
            raise EdgetuneError(f"{path}: made with {key} = {found.get(key)!r}, but the params say {value!r}; "
                                f"it is stale, {redo}")
    return found


def load_seed(seed: int, table: TableParams, results_dir: str | Path) -> tuple[dict, dict]:
    """One item's accuracies and times, checked to come from the current params (else stale)."""
    redo = f"rerun dvc repro table-train@{seed}"
    expected = {"seed": seed, "neurons_per_class": list(table.neurons_per_class),
                "learning_competition": table.learning_competition}
    path = result_path(seed, results_dir)
    result = _check_current(path, _read(path, f"train that seed first (dvc repro table-train@{seed})"), expected, redo)
    path = time_path(seed, results_dir)
    times = _check_current(path, _read(path, redo), {**expected, "num_weights": result["num_weights"],
                                                     "reference": table.reference}, redo)
    if times.get("timing") != TIMING_VERSION or times.get("timing_repeats") != table.timing_repeats:
        raise EdgetuneError(f"{path}: timed with method {times.get('timing')!r} for {times.get('timing_repeats')} "
                            f"repeats, not as the other seeds (method {TIMING_VERSION}, {table.timing_repeats}); {redo}")
    return result, times


def value_results(seeds: list[dict], table: TableParams) -> list[dict]:
    """The seeds' files turned into one result per value: its runs paired by seed, their means."""
    first = seeds[0]
    results = []
    for v in table.neurons_per_class:
        runs = [{"seed": s["seed"], **{k: s["runs"][str(v)][k] for k in ("train_accuracy", "val_accuracy",
                                                                          "learned_neurons")}} for s in seeds]
        per_class = [s["runs"][str(v)]["per_class_val_accuracy"] for s in seeds]
        results.append({
            "neurons_per_class": v,
            "num_weights": first["num_weights"],
            "num_classes": first["num_classes"],
            "train_samples": first["train_samples"],
            "val_samples": first["val_samples"],
            "train_accuracy": runs[0]["train_accuracy"],  # the first seed's
            "val_accuracy": float(np.mean([r["val_accuracy"] for r in runs])),
            "learned_neurons": float(np.mean([r["learned_neurons"] for r in runs])),
            "per_class_val_accuracy": {
                name: (None if any(p[name] is None for p in per_class) else float(np.mean([p[name] for p in per_class])))
                for name in per_class[0]
            },
            "runs": runs,
        })
    return results
