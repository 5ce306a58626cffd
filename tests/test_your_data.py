"""A user's own image data and Akida extractor, end to end with `dvc repro`: nothing assumes keyword spotting.

The dataset (6 classes of 28 × 28 grey images, 2 new classes in its ``new_*`` fields) and the
extractor (a small CNN quantized and converted with cnn2snn, 1-bit spikes) are made here; every
stage runs for real, and the values the test can compute itself are pinned.
"""

from __future__ import annotations

import json
import math
import re

import akida
import numpy as np
import pytest

from conftest import DvcProject
from edgetune.dataset import MFCC_SHAPE, KwsDataset, load_dataset, validate
from edgetune.errors import EdgetuneError
from image_fixtures import WIDTH, make_image_extractor, save_images

TABLE_VALUES = [1, 2, 4, 8]
SHOTS = [1, 5, 20]
KWS_WORDS = r"\b(voices?|speakers?|mfcc|keywords?|words?|speech|spoken|utterances?|silence)\b"


def read(root, path: str) -> dict:
    return json.loads((root / path).read_text())


def test_an_image_dataset_and_extractor_run_end_to_end_in_their_own_terms(dvc_project: DvcProject):
    root = dvc_project.root
    arrays = save_images(root / "inputs" / "images.npz")
    make_image_extractor(root / "inputs" / "extractor.fbz", arrays["x_train"], arrays["y_train"], 6)
    dvc_project.set_params(
        data={"source": "file", "path": "inputs/images.npz"},
        extractor={"source": "file", "path": "inputs/extractor.fbz"},
        weights={"fraction": 1.0, "factors": [0.6, 1.0, 1.2, 2.0], "neurons_per_class": 4, "seeds": [0, 1, 2]},
        sweep={"words": "all", "neurons_per_class": [1, 2, 4, 8, 16], "repetitions": 2, "jobs": 1},
        table={"neurons_per_class": TABLE_VALUES, "reference": 4, "seeds": [0, 1, 2], "timing_repeats": 2,
               "jobs": 1},
        fewshot={"words": "all", "shots": SHOTS, "seeds": [0, 1], "heard_words": [str(arrays["classes"][1])]},
    )
    dvc_project.commit("my images and my extractor")
    out = dvc_project.run("dvc", "repro").stdout
    assert "Running stage 'report'" in out

    classes = arrays["classes"].tolist()
    data = read(root, "metrics/data.json")
    assert data["sample_shape"] == [28, 28, 1] and data["num_classes"] == 6
    assert data["counts"] == {"train": {c: 60 for c in classes}, "val": {c: 20 for c in classes}}
    assert data["voices"] == {"train": None, "val": None}
    assert read(root, "results/extractor_identity.json")["made"] == {"how": "given", "path": "inputs/extractor.fbz"}

    # the spikes the stages learn from are this extractor's: forwarded here, the same width and median
    model = akida.Model(str(root / "inputs" / "extractor.fbz"))
    per_sample = model.forward(arrays["x_train"]).reshape(len(arrays["x_train"]), -1).sum(axis=1)
    assert read(root, "metrics/spikes.json")["width"] == WIDTH
    median = float(np.median(per_sample))
    assert read(root, "metrics/weights.json")["median_spikes"] == median
    assert read(root, "results/num_weights.json")["num_weights"] == math.floor(1.2 * median + 1e-9)

    sweep = read(root, "metrics/sweep.json")
    assert sorted(sweep["classes"]) == sorted(classes)  # "all": every class
    table = read(root, "metrics/table.json")
    assert sorted(table["rows"], key=int) == [str(v) for v in TABLE_VALUES] and table["table_num_classes"] == 6
    hardware = read(root, "metrics/hardware.json")
    assert hardware["device"] == "AKD1000" and sorted(hardware["mapped_rows"], key=int) == [str(v) for v in TABLE_VALUES]
    edge_confusion = (root / "plots/confusion/edge.csv").read_text().splitlines()
    assert len(edge_confusion) == 1 + 6 * 20 and {r.split(",")[0] for r in edge_confusion[1:]} == set(classes)
    fewshot = read(root, "metrics/fewshot.json")["fewshot"]
    assert fewshot["available"] and fewshot["words"] == arrays["new_classes"].tolist()
    assert sorted(fewshot["rows"], key=int) == [str(k) for k in SHOTS] and fewshot["old_classes"] == 6

    md = (root / "report" / "report.md").read_text()
    assert "6 classes, 360 training and 120 validation samples of shape (28, 28, 1)." in md
    assert "## 8. New classes on the device: k shots each" in md and "## Which classes are confused" in md
    assert "voices (speakers)" not in md and "Regime" not in md
    assert re.findall(KWS_WORDS, md, re.I) == []
    # a second repro changes nothing
    assert "Running stage" not in dvc_project.run("dvc", "repro").stdout


def test_the_kws_checks_stay_with_the_kws_sources(tmp_path):
    arrays = save_images(tmp_path / "images.npz", per_class=(4, 2))
    assert load_dataset(tmp_path / "images.npz").x_train.shape == (24, 28, 28, 1)  # a user's file: any (H, W, C)
    ds = KwsDataset(arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"], arrays["classes"])
    with pytest.raises(EdgetuneError) as info:
        validate(ds, "kws.pkl", MFCC_SHAPE)  # what fetch asks of the KWS sources (synthetic, BrainChip's pickle)
    assert str(info.value) == ("kws.pkl: x_train: shape (24, 28, 28, 1), expected (N, 49, 10, 1) MFCC frames; "
                               "features must be 49 frames × 10 coefficients (TF speech_commands MFCC)")
    odd = KwsDataset(arrays["x_train"], arrays["y_train"], arrays["x_val"][:, :20], arrays["y_val"], arrays["classes"])
    with pytest.raises(EdgetuneError) as info:
        validate(odd, "mine.npz")
    assert str(info.value) == ("mine.npz: x_val: samples of shape (20, 28, 1), where x_train's are (28, 28, 1); "
                               "both splits need samples of one shape")
