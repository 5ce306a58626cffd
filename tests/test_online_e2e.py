"""The tutorial's online path, end to end, offline: `dvc repro` with ``data.source=brainchip`` and
``extractor.source=brainchip`` against a real HTTP server on 127.0.0.1.

The server holds a BrainChip-format pickle and a quantized `.h5` with the architecture of
BrainChip's pretrained v1 DS-CNN-edge (64 spikes), both made by the test
(:mod:`brainchip_files`). The pipeline downloads each once into ``EDGETUNE_CACHE_DIR``, checks
their sha256 (params), unpickles safely, converts the `.h5` with cnn2snn and runs every stage to the
report. Rerunning the two download stages makes no request: the cache serves.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from brainchip_files import brainchip_pickle, brainchip_list, pretrained_v1_h5

CLASSES = 4
MODEL = "ds_cnn_kws_iq8_wq4_aq4_laq1.h5"
DATA = "kws_preprocessed_all_words_except_backward_follow_forward.pkl"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def served_model_outputs(model_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The served `.h5` converted by cnn2snn directly (the tutorial's call, not the pipeline's code):
    its classes on the served validation split, and its 64 spikes on the validation and training splits."""
    from cnn2snn import AkidaVersion, convert, load_quantized_model, set_akida_version

    x_train, _, x_val = brainchip_list(num_classes=CLASSES)[:3]
    with set_akida_version(AkidaVersion.v1):
        model = convert(load_quantized_model(str(model_path)), input_scaling=(255, 0))
    predicted = model.predict(x_val).reshape(len(x_val), -1).argmax(axis=-1)
    model.pop_layer()
    return predicted, *(model.forward(x).reshape(len(x), -1) for x in (x_val, x_train))


def test_dvc_repro_downloads_once_converts_and_reports(dvc_project, loopback, tmp_path, monkeypatch):
    cache, keras_home = tmp_path / "cache", tmp_path / "keras"
    monkeypatch.setenv("EDGETUNE_CACHE_DIR", str(cache))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))  # Keras's own cache must not be the one that serves
    data = brainchip_pickle(loopback.root / DATA, num_classes=CLASSES)
    model = pretrained_v1_h5(loopback.root / MODEL, brainchip_list(num_classes=CLASSES)[0], CLASSES)
    dvc_project.set_params(
        data={"source": "brainchip", "url": loopback.url(DATA), "sha256": sha256(data)},
        extractor={"source": "brainchip", "url": loopback.url(MODEL), "sha256": sha256(model)},
        weights={"factors": [1.0, 1.2], "neurons_per_class": 2, "seeds": [0, 1]},
        sweep={"words": ["word1"], "neurons_per_class": [1, 2, 4], "repetitions": 1, "jobs": 1},
        table={"neurons_per_class": [1, 2, 4], "reference": 2, "seeds": [0, 1], "timing_repeats": 2,
               "jobs": 1},
    )
    dvc_project.commit("online sources, served on 127.0.0.1")

    dvc_project.run("dvc", "repro")
    root = dvc_project.root
    assert dict(loopback.requests) == {DATA: 1, MODEL: 1}
    assert sorted(p.name for p in cache.rglob("*") if p.is_file()) == sorted([DATA, MODEL])
    assert not list(keras_home.rglob("*.h5"))  # (tf_keras writes only its keras.json there)

    data_metrics = json.loads((root / "metrics/data.json").read_text())
    assert data_metrics["source"] == "brainchip" and data_metrics["num_classes"] == CLASSES
    assert data_metrics["voices"] == {"train": 5, "val": 5}  # <speaker>_nohash_<n>: five speakers per split
    ext = json.loads((root / "metrics/extractor.json").read_text())
    assert ext["extractor_source"] == "brainchip" and ext["spike_width"] == 64
    # what the served files give, computed here: the classifier untrained (BatchNorm statistics and a
    # calibrated spike layer only), so 12 of the 40 validation samples right; each spike fires on about
    # a third of the samples (brainchip_files' firing_target 0.35)
    predicted, spikes, train_spikes = served_model_outputs(model)
    y_val = brainchip_list(num_classes=CLASSES)[3]
    per_sample = spikes.sum(axis=1)
    assert ext["akida_val_accuracy"] == float(np.mean(predicted == y_val)) == 0.3
    assert ext["float_val_accuracy"] is None and ext["quantized_val_accuracy"] is None  # not trained here
    keys = ("val_median_spikes", "mean_spikes", "firing_fraction", "neurons_never_firing", "neurons_always_firing",
            "val_spike_samples")
    assert {k: ext[k] for k in keys} == {
        "val_median_spikes": float(np.median(per_sample)), "mean_spikes": float(per_sample.mean()),
        "firing_fraction": round(float(spikes.mean()), 4), "neurons_never_firing": int(np.sum(~spikes.any(axis=0))),
        "neurons_always_firing": int(np.sum(spikes.all(axis=0))), "val_spike_samples": 40}
    assert (ext["val_median_spikes"], ext["mean_spikes"], ext["firing_fraction"]) == (22.0, 22.625, 0.3535)
    speaker = np.arange(40) % 5  # va<nn>ab: the validation file names' five speakers
    assert ext["akida_val_accuracy_by_voice"] == {
        f"va{v:02d}ab": {"accuracy": round(float(np.mean(predicted[speaker == v] == y_val[speaker == v])), 4),
                         "samples": 8} for v in range(5)}
    weights = json.loads((root / "metrics/weights.json").read_text())
    assert weights["all_train_median_spikes"] == float(np.median(train_spikes.sum(axis=1))) == 23.0
    # the tutorial's median over a seeded 10 % of the 160 training samples: 23 here too, and 1.2 × 23 = 27.6
    assert (weights["samples_used"], weights["median_spikes"], weights["num_weights"]) == (16, 23.0, 27)
    table = json.loads((root / "metrics/table.json").read_text())
    assert table["neurons_per_class"] == [1, 2, 4] and table["table_num_classes"] == CLASSES
    report = (root / "report/report.md").read_text()
    assert "## 6. Accuracy and time ratio: the table" in report and "near chance" not in report
    first = {p: (root / p).read_bytes() for p in ("data/kws.npz", "models/extractor.fbz")}

    # Both download stages forced to run again: the cache serves, the server sees no request.
    proc = dvc_project.run("dvc", "repro", "-f", "-s", "fetch", "extractor")
    assert "Running stage 'fetch'" in proc.stdout and "Running stage 'extractor'" in proc.stdout
    assert dict(loopback.requests) == {DATA: 1, MODEL: 1}
    assert {p: (root / p).read_bytes() for p in first} == first
