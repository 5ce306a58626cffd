"""Every stage's outputs on tiny data, made by the real stages with `dvc repro` in a project copy.

fetch (source=file, a tiny dataset), spikes (a tiny real Akida extractor), weights, sweep (two
classes), table-train, hardware, table, confusion and fewshot run for real; only the extractor
stage's outputs are written here, in its formats (its training is the one stage too slow for a
test), and recorded with `dvc commit` as if it had run.
"""

from __future__ import annotations

import json

from akida_fixtures import make_tiny_extractor
from conftest import DvcProject
from edgetune.atomic import write_json
from edgetune.confusion import write_confusion_csv
from edgetune.dataset import save_dataset
from edgetune.extractor.curves import training_curves
from edgetune.extractor.identity import file_md5
from edgetune.params import ExtractorParams
from spike_fixtures import tiny_kws

# The extractor stage's metrics/extractor.json, every key it writes (values of a plausible run).
EXTRACTOR_METRICS = {
    "akida_val_accuracy": 0.8125, "firing_fraction": 0.3466, "float_val_accuracy": 0.8542,
    "mean_spikes": 8.317, "val_median_spikes": 8.0, "neurons_always_firing": 0, "neurons_never_firing": 1,
    "quantized_val_accuracy": 0.8333, "extractor_source": "train", "spike_width": 24,
    "val_spike_samples": 60,
}
# how the extractor stage records a model it trained (results/extractor_identity.json's "made")
MADE = {"how": "trained", "cpu": "a test CPU", "tensorflow": "2.19.1", "onednn_max_cpu_isa": "AVX2",
        "intraop_threads": "2"}
SWEEP_WORDS = ["six", "yes"]
TABLE_VALUES = [1, 2, 4, 8]
UPSTREAM = ["fetch", "spikes", "weights", "sweep", "table-train", "hardware", "table", "confusion",
            "fetch-new-words", "fewshot"]


def setup_upstream(project: DvcProject, sweep_jobs: int = 1) -> None:
    """``sweep_jobs`` 0: as many sweep, table and fewshot workers as the process may use cores (the default's way)."""
    root = project.root
    ds = tiny_kws()
    save_dataset(root / "inputs" / "kws.npz", ds)
    (root / "models").mkdir(parents=True, exist_ok=True)
    make_tiny_extractor(root / "models" / "extractor.fbz", ds.x_train, width=24)
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics" / "extractor.json").write_text(json.dumps(EXTRACTOR_METRICS, indent=2, sort_keys=True) + "\n")
    # the extractor stage's other outputs, in its formats: a classifier that mistakes every 4th sample
    # for the next class, DVCLive's (empty) curves, its time
    predicted = ds.y_val.copy()
    predicted[::4] = (predicted[::4] + 1) % len(ds.classes)
    write_confusion_csv(root / "plots/confusion/extractor.csv", ds.y_val, predicted, ds.classes)
    with training_curves(root / "dvclive"):
        pass
    (root / "metrics" / "time").mkdir(exist_ok=True)
    (root / "metrics" / "time" / "extractor.json").write_text('{"extractor_train_seconds": null}\n')
    project.set_params(
        data={"source": "file", "path": "inputs/kws.npz"},
        weights={"fraction": 0.5, "factors": [0.6, 1.0, 1.2, 1.6, 2.0], "neurons_per_class": 4, "seeds": [0, 1, 2]},
        sweep={"words": SWEEP_WORDS, "neurons_per_class": [1, 2, 3, 4, 6, 8, 12, 16, 24], "repetitions": 2,
               "jobs": sweep_jobs},
        table={"neurons_per_class": TABLE_VALUES, "reference": 4, "seeds": [0, 1, 2], "timing_repeats": 3,
               "jobs": sweep_jobs},
        fewshot={"jobs": sweep_jobs},  # 1: on tiny data, starting spawned workers costs more than the work
    )
    project.commit("tiny inputs")
    project.run("dvc", "repro", "-s", *UPSTREAM)
    write_json(root / "results" / "extractor_identity.json", {
        "model_md5": file_md5(root / "models" / "extractor.fbz"),
        "data": {"path": "data/kws.npz", "md5": file_md5(root / "data" / "kws.npz")},
        "params": ExtractorParams.model_validate(project.params()["extractor"]).model_dump(), "made": MADE})
    project.run("dvc", "commit", "-f", "-q", "extractor")  # its outputs, as if it had run: exps leave them be
