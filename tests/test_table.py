"""The table stage: per-value trainings (DVC matrix items) and the aggregated table, on tiny data."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from akida import ActivationType, Dense1D, InputConv2D, Model

from akida_fixtures import make_tiny_extractor
from edgetune import table, table_train, whole_model
from edgetune.dataset import KwsDataset, save_dataset
from edgetune.errors import EdgetuneError
from edgetune.params import TableParams, parse_params
from edgetune.spikefile import SpikeSet, load_spikes, save_spikes

REPO = Path(__file__).resolve().parents[1]
CLASSES = np.array(["six", "yes", "no"])
WIDTH = 24


def tiny_inputs(root: Path, per_class_train: int = 40, per_class_val: int = 12, num_weights: int = 8) -> None:
    """What the upstream stages would leave in ``root``: dataset, extractor, its spikes, num_weights."""
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, (len(CLASSES), 49, 10, 1))

    def split(per_class):
        y = np.repeat(np.arange(len(CLASSES), dtype=np.int32), per_class)
        noise = rng.integers(-40, 41, (len(y), 49, 10, 1))
        return np.clip(templates[y] + noise, 0, 255).astype(np.uint8), y

    (x_train, y_train), (x_val, y_val) = split(per_class_train), split(per_class_val)
    save_dataset(root / "data/kws.npz", KwsDataset(x_train, y_train, x_val, y_val, CLASSES))
    (root / "models").mkdir(parents=True, exist_ok=True)
    extractor = make_tiny_extractor(root / "models/extractor.fbz", x_train, width=WIDTH)
    spikes = SpikeSet(extractor.forward(x_train), y_train, extractor.forward(x_val), y_val, CLASSES)
    save_spikes(root / "data/spikes.npz", spikes)
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "metrics/weights.json").write_text(json.dumps({"num_weights": num_weights}))
    (root / "metrics/data.json").write_text(json.dumps({"num_classes": len(CLASSES)}))  # the hardware stage's


def write_params(path: Path, **table_values) -> None:
    import yaml

    raw = {"table": {"neurons_per_class": [2, 4], "reference": 4, "seeds": [0, 1], **table_values}}
    path.write_text(yaml.safe_dump(raw, default_flow_style=False))


def item_paths(root: Path) -> dict:
    return dict(spikes_path=root / "data/spikes.npz", dataset_path=root / "data/kws.npz",
                extractor_path=root / "models/extractor.fbz", weights_path=root / "metrics/weights.json",
                results_dir=root / "results/table")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    tiny_inputs(root)
    return root


def test_item_trains_every_seed_and_the_whole_model_learns_the_same_weights(tiny, tmp_path):
    write_params(tmp_path / "params.yaml", whole_model_seeds=2)
    paths = {**item_paths(tiny), "results_dir": tmp_path / "results"}
    result = table_train.run(4, params_path=tmp_path / "params.yaml", **paths)
    saved = json.loads((tmp_path / "results/npc-4.json").read_text())
    assert saved["val_accuracy"] == result["val_accuracy"]
    assert [r["seed"] for r in result["runs"]] == [0, 1]
    for run in result["runs"]:
        assert 0 <= run["val_accuracy"] <= 1 and 0 <= run["train_accuracy"] <= 1
        assert 1 <= run["learned_neurons"] <= 12
        assert run["fit_seconds"] > 0 and run["whole_model_seconds"] > 0
        assert run["whole_model_mode"] == whole_model.COMPOSED
        assert run["whole_model_same_weights"] is True
    # class-dependent MFCCs: far above chance (1/3)
    assert result["val_accuracy"] > 0.6
    assert result["val_accuracy_min"] <= result["val_accuracy"] <= result["val_accuracy_max"]
    assert set(result["per_class_val_accuracy"]) == set(CLASSES)
    assert result["units"] == 12 and result["train_samples"] == 120 and result["val_samples"] == 36
    assert result["whole_model_seconds"] == pytest.approx(np.median([r["whole_model_seconds"] for r in result["runs"]]))
    # the seeds drive shuffling and initial weights: another run gives the same accuracies;
    # with whole_model_seeds = 1 only the first seed is also timed the tutorial's way
    write_params(tmp_path / "params.yaml", whole_model_seeds=1)
    again = table_train.run(4, params_path=tmp_path / "params.yaml", **paths)
    assert [r["val_accuracy"] for r in again["runs"]] == [r["val_accuracy"] for r in result["runs"]]
    assert again["per_class_val_accuracy"] == result["per_class_val_accuracy"]
    first, second = again["runs"]
    assert first["whole_model_same_weights"] is True and first["whole_model_seconds"] > 0
    assert second["whole_model_seconds"] is None and second["whole_model_mode"] is None
    assert again["whole_model_seconds"] == first["whole_model_seconds"] and again["whole_model_seeds"] == 1


def test_scoring_batches_stay_bounded_at_the_largest_layer():
    assert table_train.score_batch(33 * 500) * 33 * 500 <= 2**24
    assert table_train.score_batch(10**9) == 1


def tiny_akida2_extractor(path: Path, width: int) -> None:
    """An Akida 2.0 model with binary outputs: the v1 edge layer cannot be appended to it."""
    model = Model()
    model.add(InputConv2D(input_shape=(49, 10, 1), filters=4, kernel_size=3, kernel_stride=2, output_bits=1))
    model.add(Dense1D(units=width, output_bits=1, activation=ActivationType.ReLU))
    model.save(str(path))


def test_whole_model_falls_back_to_forward_plus_fit_when_the_layer_cannot_be_appended(tiny, tmp_path, caplog):
    from edgetune import edge

    spikes = load_spikes(tiny / "data/spikes.npz")
    x_mfcc = np.load(tiny / "data/kws.npz")["x_train"]
    tiny_akida2_extractor(tmp_path / "v2.fbz", WIDTH)
    config = edge.EdgeConfig(3, 2, 8)
    fit = whole_model.fit_whole_model(tmp_path / "v2.fbz", x_mfcc, spikes.y_train, config, WIDTH, edge_fit_seconds=5.0)
    assert fit.mode == whole_model.SUMMED and fit.trained is None
    assert fit.seconds > 5.0  # forward time + the edge layer's own fit time
    assert "cannot train an edge layer after this extractor" in caplog.text
    composed = whole_model.fit_whole_model(tiny / "models/extractor.fbz", x_mfcc, spikes.y_train, config, WIDTH, 5.0)
    assert composed.mode == whole_model.COMPOSED and composed.seconds < 5.0


def test_item_input_errors_are_clear(tiny, tmp_path):
    write_params(tmp_path / "params.yaml")
    paths = item_paths(tiny)
    with pytest.raises(EdgetuneError, match=r"extractor.fbz: not found; run the extractor stage first"):
        table_train.run(2, tmp_path / "params.yaml", **{**paths, "extractor_path": tmp_path / "models/extractor.fbz"})
    make_tiny_extractor(tmp_path / "wide.fbz", np.load(tiny / "data/kws.npz")["x_train"], width=WIDTH + 8)
    with pytest.raises(EdgetuneError, match=r"outputs \[1, 1, 32\] but the spikes are 24 wide; .*rerun dvc repro spikes"):
        table_train.run(2, tmp_path / "params.yaml", **{**paths, "extractor_path": tmp_path / "wide.fbz",
                                                         "results_dir": tmp_path / "r"})
    (tmp_path / "w.json").write_text('{"num_weights": 25}')
    with pytest.raises(EdgetuneError, match=r"num_weights = 25: must be between 1 and the spike width 24"):
        table_train.run(2, tmp_path / "params.yaml", **{**paths, "weights_path": tmp_path / "w.json"})
    short = load_spikes(tiny / "data/spikes.npz")
    save_spikes(tmp_path / "short.npz", SpikeSet(short.x_train[:-3], short.y_train[:-3], short.x_val, short.y_val, CLASSES))
    with pytest.raises(EdgetuneError, match=r"117 training samples do not match the 120 .*rerun dvc repro spikes"):
        table_train.run(2, tmp_path / "params.yaml", **{**paths, "spikes_path": tmp_path / "short.npz"})
    assert not (tmp_path / "r").exists()


def fake_result(npc: int, val: float, fit: float, whole: float, seeds=(0, 1), lc=0.1) -> dict:
    runs = [{"seed": s, "whole_model_same_weights": True, "whole_model_seconds": whole} for s in seeds]
    return {"neurons_per_class": npc, "num_weights": 8, "learning_competition": lc, "seeds": list(seeds),
            "whole_model_seeds": 1,
            "num_classes": 3, "units": 3 * npc, "train_samples": 120, "val_samples": 36,
            "train_accuracy": min(1.0, val + 0.05), "val_accuracy": val, "val_accuracy_min": val - 0.01,
            "val_accuracy_max": val + 0.01, "learned_neurons": 3 * npc - 1, "fit_seconds": fit,
            "whole_model_seconds": whole, "whole_model_mode": whole_model.COMPOSED,
            "per_class_val_accuracy": {"no": val, "six": val, "yes": val}, "runs": runs}


def write_results(results_dir: Path, results: list[dict]) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    for r in results:
        (results_dir / f"npc-{r['neurons_per_class']}.json").write_text(json.dumps(r))


def test_table_rows_ratios_plateau_and_outputs(tmp_path):
    # the tutorial's accuracies: stops rising (within 0.5 points of 92.6 %) at 50
    tutorial = {10: 0.916, 20: 0.918, 50: 0.921, 100: 0.923, 200: 0.925, 300: 0.926, 400: 0.925, 500: 0.925}
    write_results(tmp_path / "results", [fake_result(n, a, fit=n / 100, whole=10 + n / 100) for n, a in tutorial.items()])
    write_results(tmp_path / "results", [fake_result(1000, 0.99, 1, 1)])  # an orphan from an older list: ignored
    write_params(tmp_path / "params.yaml", neurons_per_class=list(tutorial), reference=300)
    out = {name: tmp_path / name for name in ("table.json", "table.md", "table.csv", "per_class.csv", "table.png")}
    t = table.run(tmp_path / "params.yaml", tmp_path / "results", out["table.json"], out["table.md"], out["table.csv"],
                  out["per_class.csv"], out["table.png"])
    assert json.loads(out["table.json"].read_text()) == t
    assert list(t["rows"]) == [str(n) for n in tutorial]
    assert t["rows"]["300"]["time_ratio_edge"] == 1 and t["rows"]["300"]["time_ratio_model"] == 1
    assert t["rows"]["10"]["time_ratio_edge"] == pytest.approx(0.1 / 3, abs=1e-3)
    assert t["rows"]["500"]["time_ratio_model"] == pytest.approx(15 / 13, abs=1e-3)
    assert t["best_neurons_per_class"] == 300 and t["best_val_accuracy"] == 0.926
    assert t["plateau_neurons_per_class"] == 50
    assert t["whole_model_same_weights"] is True
    md = out["table.md"].read_text()
    assert "| Nb. neurons | Val accuracy | Time ratio | Time ratio (edge layer) |" in md
    assert "| 300 | 92.6 % | 1.00 | 1.00 |" in md
    assert "| 50 ← | 92.1 % |" in md and "**50** neurons per class" in md
    assert "1000" not in md
    csv = pd.read_csv(out["table.csv"])
    assert csv.neurons_per_class.tolist() == list(tutorial)
    assert csv.loc[csv.neurons_per_class == 300, "time_ratio_model"].item() == 1
    assert len(pd.read_csv(out["per_class.csv"])) == 3 * len(tutorial)
    assert out["table.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Warning" not in md
    assert "as the tutorial timed it, on the first seed;" in md
    mismatch = fake_result(10, 0.916, 0.1, 10.1)
    mismatch["runs"][1]["whole_model_same_weights"] = False
    write_results(tmp_path / "results", [mismatch])
    t = table.run(tmp_path / "params.yaml", tmp_path / "results", *out.values())
    assert t["whole_model_same_weights"] is False
    assert "**Warning:** the whole model learned other weights" in out["table.md"].read_text()


def test_plateau_with_a_looser_tolerance_and_ties():
    assert table.plateau([10, 20, 50], [0.80, 0.90, 0.91], 0.005) == 50
    assert table.plateau([10, 20, 50], [0.80, 0.90, 0.91], 0.02) == 20
    assert table.plateau([50, 10, 20], [0.91, 0.91, 0.5], 0.0) == 10


def test_table_refuses_missing_and_stale_results(tmp_path):
    write_params(tmp_path / "params.yaml")
    write_results(tmp_path / "results", [fake_result(4, 0.9, 1, 1)])
    with pytest.raises(EdgetuneError, match=r"npc-2.json: not found; train that value first \(dvc repro table-train@2\)"):
        table.build_table(TableParams(neurons_per_class=[2, 4], reference=4), tmp_path / "results")
    write_results(tmp_path / "results", [fake_result(2, 0.9, 1, 1, seeds=(0,))])
    with pytest.raises(EdgetuneError, match=r"npc-2.json: made with seeds = \[0\], but the params say \[0, 1\]; it is stale"):
        table.build_table(TableParams(neurons_per_class=[2, 4], reference=4), tmp_path / "results")


@pytest.mark.parametrize(
    "values, message",
    [
        ({"neurons_per_class": [2, 4], "reference": 3}, "table: reference 3 is not in neurons_per_class [2, 4]"),
        ({"neurons_per_class": []}, "table.neurons_per_class = []: neurons_per_class must list at least one value"),
        ({"neurons_per_class": [2, 4, 2], "reference": 4}, "neurons_per_class repeats [2]"),
        ({"neurons_per_class": [2, 4], "reference": 4, "seeds": []}, "seeds must list at least one seed"),
        ({"neurons_per_class": [2, 4], "reference": 4, "seeds": [1, 1]}, "seeds repeat"),
        ({"neurons_per_class": [2, 4], "reference": 4, "seeds": [1], "whole_model_seeds": 2},
         "whole_model_seeds 2 is more than the 1 seed(s) listed"),
    ],
)
def test_bad_table_params_fail_with_one_clear_line(values, message):
    with pytest.raises(EdgetuneError) as info:
        parse_params({"table": values}, "params.yaml")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_table_params_are_sorted():
    assert TableParams(neurons_per_class=[300, 10, 50], reference=50).neurons_per_class == [10, 50, 300]


def repro_table(project):
    """The table stages only (-s): the upstream outputs are the test's, not to be rebuilt.

    The hardware stage (its columns; tests/test_hardware.py) is brought up to date first.
    """
    project.run("dvc", "repro", "-s", "hardware")
    return project.run("dvc", "repro", "-s", "table-train", "table").stdout


def ran(stdout: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", stdout))


def test_dvc_matrix_retrains_only_added_values_and_drops_removed_rows(dvc_project):
    tiny_inputs(dvc_project.root)
    dvc_project.set_params(table={"neurons_per_class": [2, 4], "reference": 4, "seeds": [0, 1], "whole_model_seeds": 2})
    dvc_project.commit("tiny inputs")
    assert ran(repro_table(dvc_project)) == {"table-train@2", "table-train@4", "table"}
    metrics = json.loads((dvc_project.root / "metrics/table.json").read_text())
    assert list(metrics["rows"]) == ["2", "4"]
    assert metrics["rows"]["4"]["time_ratio_edge"] == 1 and metrics["rows"]["4"]["time_ratio_model"] == 1
    for row in metrics["rows"].values():
        assert 0 <= row["val_accuracy"] <= 1 and 0 <= row["train_accuracy"] <= 1
    assert metrics["whole_model_same_weights"] is True
    assert all(row["edge_memory"] == "on-chip" and row["program_bytes"] > 0 for row in metrics["rows"].values())
    assert (dvc_project.root / "plots/table.png").exists()
    assert "| 4 |" in (dvc_project.root / "metrics/table.md").read_text()

    dvc_project.set_params(table={"neurons_per_class": [2, 3, 4]})
    out = repro_table(dvc_project)
    assert ran(out) == {"table-train@3", "table"}
    assert "Stage 'table-train@2' didn't change, skipping" in out
    assert "Stage 'table-train@4' didn't change, skipping" in out
    assert list(json.loads((dvc_project.root / "metrics/table.json").read_text())["rows"]) == ["2", "3", "4"]

    dvc_project.set_params(table={"neurons_per_class": [3, 4]})
    assert ran(repro_table(dvc_project)) == {"table"}
    metrics = json.loads((dvc_project.root / "metrics/table.json").read_text())
    assert list(metrics["rows"]) == ["3", "4"]  # npc-2.json is still on disk, but not a row
    assert (dvc_project.root / "results/table/npc-2.json").exists()
    assert "| 2 |" not in (dvc_project.root / "metrics/table.md").read_text()
    assert pd.read_csv(dvc_project.root / "plots/table.csv").neurons_per_class.tolist() == [3, 4]

    dvc_project.set_params(table={"tolerance": 0.1})  # only the table reads it
    assert ran(repro_table(dvc_project)) == {"table"}
    dvc_project.set_params(table={"seeds": [0], "whole_model_seeds": 1})  # every item trains with the seeds
    assert ran(repro_table(dvc_project)) == {"table-train@3", "table-train@4", "table"}
    (dvc_project.root / "metrics/weights.json").write_text(json.dumps({"num_weights": 8, "median_spikes": 7.0}))
    assert ran(repro_table(dvc_project)) == set()  # num_weights unchanged: nothing retrains
    (dvc_project.root / "metrics/weights.json").write_text(json.dumps({"num_weights": 7}))
    assert ran(repro_table(dvc_project)) == {"table-train@3", "table-train@4", "table"}


@pytest.mark.parametrize(
    "values, message",
    [
        ({"neurons_per_class": [2, 4], "reference": 3}, "reference 3 is not in neurons_per_class [2, 4]"),
        ({"neurons_per_class": []}, "table.neurons_per_class = []: neurons_per_class must list at least one value"),
    ],
)
def test_dvc_repro_with_bad_table_params_stops_with_a_clear_error(dvc_project, values, message):
    tiny_inputs(dvc_project.root)
    # as in a clone: the results folder exists (its README is tracked), no item has run yet
    (dvc_project.root / "results/table").mkdir(parents=True)
    shutil.copy(REPO / "results/table/README.md", dvc_project.root / "results/table/README.md")
    dvc_project.set_params(table=values)
    proc = dvc_project.run("dvc", "repro", "-s", "table-train", "hardware", "table", check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (dvc_project.root / "metrics/table.json").exists()
