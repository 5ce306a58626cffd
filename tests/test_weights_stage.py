"""The weights stage, run by the real `dvc repro` on spikes the tests saved."""

import json
import logging

import numpy as np
import pandas as pd
import pytest

from edgetune.edge import layer as edge, weights
from edgetune.errors import EdgetuneError
from edgetune.params import parse_params
from spike_fixtures import place_dataset_and_extractor, place_spikes

OUTPUTS = ("metrics/weights.json", "plots/weights/factor_curve.csv", "plots/weights/factor_curve.png")
SMALL = {"fraction": 0.25, "seed": 3, "seeds": [3, 4, 5], "factor": 1.2, "factors": [0.6, 1.0, 1.5, 2.0],
         "neurons_per_class": 4}


def engine_accuracy(trained: edge.TrainedEdge, x, y) -> float:
    """Validation accuracy by the engine's own predict_classes on the trained weights."""
    model = edge.build_model(trained.weights.shape[0], trained.config)
    w = trained.weights.astype(np.int8).reshape(1, 1, *trained.weights.shape)
    model.get_layer(edge.LAYER_NAME).set_variable("weights", w)
    pred = model.predict_classes(x.reshape(len(x), 1, 1, -1), num_classes=trained.config.num_classes)
    return float((pred == y).mean())


def test_weights_stage_sets_num_weights_from_the_median_and_measures_the_factor_curve(dvc_project):
    root = dvc_project.root
    spikes = place_spikes(root)
    dvc_project.set_params(weights=SMALL)
    dvc_project.commit("small weights params")
    dvc_project.run("dvc", "repro", "-s", "weights")

    result = json.loads((root / "metrics" / "weights.json").read_text())
    n = len(spikes.y_train)
    rng = np.random.default_rng(3)
    subset = rng.permutation(n)[: int(0.25 * n)]
    median = float(np.median(spikes.x_train[subset].sum(axis=1)))
    assert result["samples_used"] == int(0.25 * n) == 60
    assert result["median_spikes"] == median
    assert isinstance(result["num_weights"], int) and result["num_weights"] == int(1.2 * median)
    assert edge.load_num_weights(root / "metrics" / "weights.json") == result["num_weights"]
    # the choice alone, what the table, hardware and confusion stages depend on
    assert json.loads((root / "results" / "num_weights.json").read_text()) == {"num_weights": result["num_weights"]}
    assert edge.load_num_weights(root / "results" / "num_weights.json") == result["num_weights"]
    assert (result["factor"], result["fraction"], result["factor_neurons_per_class"]) == (1.2, 0.25, 4)

    # one row per factor (the chosen one included), each trained on the whole training set once per seed
    curve = pd.read_csv(root / "plots" / "weights" / "factor_curve.csv")
    assert curve["factor"].tolist() == [0.6, 1.0, 1.2, 1.5, 2.0]
    assert curve["num_weights"].tolist() == [int(f * median) for f in curve["factor"]]
    assert curve["chosen"].tolist() == [0, 0, 1, 0, 0]
    assert ((curve["learned_neurons"] >= 1) & (curve["learned_neurons"] <= 16)).all()
    chosen = curve[curve["factor"] == 1.2].iloc[0]
    assert result["val_accuracy"] == chosen["val_accuracy"] and result["factor_seeds"] == [3, 4, 5]
    assert result["val_accuracy_ci95"] == chosen["val_accuracy_ci95"] >= 0
    assert result["learned_neurons"] == chosen["learned_neurons"]
    # the verdict is the paired rule of edgetune.stats, on the curve's own gaps
    assert result["chosen_verdict"] == ("best" if result["best_factor"] == 1.2 else
                                        "below" if chosen["below_best"] else "indistinguishable")
    assert result["indistinguishable_factors"] == curve.loc[curve["below_best"] == 0, "factor"].tolist()
    assert result["best_factor"] in result["indistinguishable_factors"]
    assert result["best_factor"] in curve["factor"].tolist()
    assert result["best_factor_val_accuracy"] == curve["val_accuracy"].max()
    best = curve[curve["factor"] == result["best_factor"]].iloc[0]
    assert best["val_accuracy"] == curve["val_accuracy"].max() and result["best_num_weights"] == best["num_weights"]
    assert (root / "plots" / "weights" / "factor_curve.png").read_bytes()[:4] == b"\x89PNG"

    # the chosen point is the mean of independent trainings, one per seed, scored by the engine itself
    accs, learned = [], []
    for seed in (3, 4, 5):
        order = np.random.default_rng(seed).permutation(n)
        config = edge.EdgeConfig(num_classes=4, neurons_per_class=4, num_weights=result["num_weights"], seed=seed)
        trained = edge.train(spikes.x_train[order], spikes.y_train[order], config)
        accs.append(engine_accuracy(trained, spikes.x_val, spikes.y_val))
        learned.append(trained.num_learned)
    assert np.mean(accs) == pytest.approx(result["val_accuracy"], abs=1e-6)
    assert (chosen["val_accuracy_min"], chosen["val_accuracy_max"]) == pytest.approx((min(accs), max(accs)), abs=1e-6)
    assert np.mean(learned) == pytest.approx(result["learned_neurons"])
    assert result["val_accuracy"] > 0.5  # clustered classes are learnable (chance is 0.25)

    before = {p: (root / p).read_bytes() for p in OUTPUTS}
    dvc_project.run("dvc", "repro", "-s", "-f", "weights")
    assert {p: (root / p).read_bytes() for p in OUTPUTS} == before


def test_changing_the_factor_reruns_only_the_weights_stage(dvc_project):
    place_dataset_and_extractor(dvc_project.root, width=24)
    dvc_project.only_stages("spikes", "weights")  # the test's dataset and extractor stand for fetch's and extractor's
    dvc_project.set_params(weights=SMALL)
    first = dvc_project.run("dvc", "repro", "weights")
    assert "Running stage 'spikes'" in first.stdout and "Running stage 'weights'" in first.stdout
    dvc_project.commit("pipeline ran")
    dvc_project.set_params(weights={"factor": 1.4})
    status = dvc_project.run("dvc", "status")
    assert "weights:" in status.stdout and "spikes:" not in status.stdout
    second = dvc_project.run("dvc", "repro", "weights")
    assert "Stage 'spikes' didn't change, skipping" in second.stdout
    assert "Running stage 'weights'" in second.stdout
    result = json.loads((dvc_project.root / "metrics" / "weights.json").read_text())
    assert result["factor"] == 1.4 and result["num_weights"] == int(1.4 * result["median_spikes"])
    assert 1.4 in pd.read_csv(dvc_project.root / "plots" / "weights" / "factor_curve.csv")["factor"].tolist()


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"fraction": 0}, "params.yaml: weights.fraction = 0: Input should be greater than 0"),
        ({"factors": []}, "weights.factors = []: factors must be a non-empty list without repeats"),
        ({"fraction": 0.001}, "weights.fraction = 0.001: 0.001 × 240 training samples is no sample"),
        ({"factor": 0.01}, "weights.factor = 0.01: 0.01 × median spikes"),
        ({"jobs": -1}, "params.yaml: weights.jobs = -1: Input should be greater than or equal to 0"),
    ],
)
def test_bad_weights_params_fail_the_stage_with_one_clear_line(dvc_project, bad, message):
    place_spikes(dvc_project.root)
    dvc_project.set_params(weights={**SMALL, **bad})
    out = dvc_project.run("dvc", "repro", "-s", "weights", check=False)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert not (dvc_project.root / "metrics" / "weights.json").exists()


def test_factors_repeating_a_value_are_refused():
    with pytest.raises(EdgetuneError, match="without repeats"):
        parse_params({"weights": {"factors": [1.2, 1.2]}})


def test_num_weights_floors_the_product_without_float_noise():
    assert weights.weights_for(1.2, 71.0) == 85  # the tutorial's numbers
    assert weights.weights_for(0.29, 100.0) == 29  # 0.29 * 100 == 28.999999999999996 in floats
    assert weights.weights_for(1.5, 9.5) == 14


def test_num_weights_above_the_width_is_clamped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        assert weights.check_num_weights(3.0, 30.0, 64, "weights.factor") == (64, True)
    assert "exceeds the spike width 64" in caplog.text
    assert weights.check_num_weights(1.2, 30.0, 64, "weights.factor") == (36, False)
    with pytest.raises(EdgetuneError, match="needs at least 1 weight"):
        weights.check_num_weights(1.2, 0.0, 64, "weights.factor")


def test_too_many_neurons_is_warned_once_by_class_name_not_once_per_factor(tmp_path, caplog):
    spikes = place_spikes(tmp_path)  # 60 training samples per class
    params = parse_params({"weights": {**SMALL, "neurons_per_class": 70}}).weights
    with caplog.at_level(logging.WARNING):
        curve = weights.factor_curve(spikes, 18.0, [0.6, 1.0, 1.2], params)
    assert len(curve) == 3
    warnings = [r.getMessage() for r in caplog.records if "cannot learn" in r.getMessage()]
    assert len(warnings) == 1 and "six, yes, no, up" in warnings[0]


def test_the_factor_curve_is_the_same_on_one_worker_and_on_two(tmp_path):
    spikes = place_spikes(tmp_path)
    one, two = (weights.factor_curve(spikes, 18.0, [0.6, 1.0, 1.2, 2.0], parse_params(
        {"weights": {**SMALL, "jobs": jobs}}).weights) for jobs in (1, 2))
    pd.testing.assert_frame_equal(one, two)
    assert one["num_weights"].tolist() == [10, 18, 21, 36]  # int(factor × 18)
