"""The spikes stage, run by the real `dvc repro` on a tiny dataset and a tiny real Akida extractor."""

import json

import akida
import numpy as np
import pandas as pd
import pytest

from akida_fixtures import make_tiny_extractor
from edgetune.edge import spikes as spikes_stage
from edgetune.errors import EdgetuneError
from edgetune.edge.spikefile import load_spikes
from spike_fixtures import place_dataset_and_extractor, tiny_kws

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OUTPUTS = ("data/spikes.npz", "metrics/spikes.json", "plots/spikes/count_histogram.csv",
           "plots/spikes/per_class.csv", "plots/spikes/neuron_rates.csv", "plots/spikes/count_histogram.png",
           "plots/spikes/per_class.png", "plots/spikes/neuron_rates.png")


def expected_summary(counts):
    return {
        "samples": len(counts),
        "median": float(np.median(counts)),
        "mean": pytest.approx(counts.mean(), abs=1e-4),
        "p10": pytest.approx(np.percentile(counts, 10), abs=1e-4),
        "p90": pytest.approx(np.percentile(counts, 90), abs=1e-4),
        "min": int(counts.min()),
        "max": int(counts.max()),
        "zero_spike_samples": int((counts == 0).sum()),
    }


def test_spikes_stage_stores_the_extractor_spikes_and_their_statistics(dvc_project):
    root = dvc_project.root
    ds = place_dataset_and_extractor(root, width=24)
    dvc_project.set_params(spikes={"batch_size": 7})  # batches that do not divide the splits
    dvc_project.commit("tiny data")
    out = dvc_project.run("dvc", "repro", "-s", "spikes")
    assert "Running stage 'spikes'" in out.stdout

    # the stored spikes are exactly the engine's forward of each split, labels and classes kept
    model = akida.Model(str(root / "models" / "extractor.fbz"))
    stored = load_spikes(root / "data" / "spikes.npz")
    direct = {s: model.forward(getattr(ds, f"x_{s}")).reshape(-1, 24) for s in ("train", "val")}
    assert np.array_equal(stored.x_train, direct["train"]) and np.array_equal(stored.x_val, direct["val"])
    assert np.array_equal(stored.y_train, ds.y_train) and np.array_equal(stored.y_val, ds.y_val)
    assert stored.classes.tolist() == ds.classes.tolist()

    # statistics equal a direct numpy computation on those spikes
    stats = json.loads((root / "metrics" / "spikes.json").read_text())
    counts = {s: direct[s].sum(axis=1, dtype=np.int64) for s in direct}
    both = np.concatenate([direct["train"], direct["val"]])
    assert stats["width"] == 24 and stats["classes"] == 4
    assert stats["train"] == expected_summary(counts["train"])
    assert stats["val"] == expected_summary(counts["val"])
    assert stats["overall"] == expected_summary(both.sum(axis=1, dtype=np.int64))
    assert stats["neurons"]["never_fire"] == int((both.sum(axis=0) == 0).sum())
    assert stats["neurons"]["always_fire"] == int((both.sum(axis=0) == len(both)).sum())
    assert stats["neurons"]["mean_firing_rate"] == pytest.approx(both.mean(), abs=1e-4)
    for split in ("train", "val"):
        y = getattr(ds, f"y_{split}")
        assert stats["per_class_median"][split] == {
            str(name): float(np.median(counts[split][y == c])) for c, name in enumerate(ds.classes)
        }

    # plot data: histogram over 0..D per split, per-class table, neuron rates; PNGs rendered
    hist = pd.read_csv(root / "plots" / "spikes" / "count_histogram.csv")
    assert hist["spikes"].tolist() == list(range(25))
    assert hist["train_samples"].tolist() == np.bincount(counts["train"], minlength=25).tolist()
    assert hist["val_fraction"].sum() == pytest.approx(1.0, abs=1e-4)
    per_class = pd.read_csv(root / "plots" / "spikes" / "per_class.csv")
    assert per_class["class"].tolist() == ds.classes.tolist()
    assert dict(zip(per_class["class"], per_class["train_median"])) == stats["per_class_median"]["train"]
    assert per_class["train_samples"].sum() == len(ds.y_train)
    rates = pd.read_csv(root / "plots" / "spikes" / "neuron_rates.csv")
    assert rates["train_rate"].to_numpy() == pytest.approx(direct["train"].mean(axis=0), abs=1e-6)
    for name in ("count_histogram", "per_class", "neuron_rates"):
        assert (root / "plots" / "spikes" / f"{name}.png").read_bytes()[:8] == PNG_MAGIC

    # same inputs and params → byte-identical outputs; unchanged inputs → DVC skips the stage
    before = {p: (root / p).read_bytes() for p in OUTPUTS}
    dvc_project.run("dvc", "repro", "-s", "-f", "spikes")
    assert {p: (root / p).read_bytes() for p in OUTPUTS} == before
    again = dvc_project.run("dvc", "repro", "-s", "spikes")
    assert "didn't change, skipping" in again.stdout


def test_extractor_with_multi_bit_output_fails_the_stage_with_one_clear_line(dvc_project):
    place_dataset_and_extractor(dvc_project.root, width=16, act_bits=4)  # data/, models/ are git-ignored
    out = dvc_project.run("dvc", "repro", "-s", "spikes", check=False)
    assert out.returncode != 0
    assert "edgetune spikes: error: models/extractor.fbz: last layer 'spikes' has 4-bit activations" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (dvc_project.root / "data" / "spikes.npz").exists()


def test_non_binary_values_are_caught_while_forwarding(tmp_path):
    ds = tiny_kws()
    model = make_tiny_extractor(None, ds.x_train, width=16, act_bits=4)
    with pytest.raises(EdgetuneError, match=r"x.fbz: the output is not binary \(values 0\.\.\d+ on train samples 0\.\.9\); .*1-bit"):
        spikes_stage.forward_spikes(model, ds.x_train, batch_size=10, origin="x.fbz", split="train")
