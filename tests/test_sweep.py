"""The sweep stage on the real akida engine, on small spikes with a known structure.

Each class is made of ``k`` prototypes (16 ones out of 64) with 1 % of bits flipped: one neuron per
prototype is enough, so the loss must fall until ``k`` neurons per class and stay flat after,
the learned neurons must saturate near ``k``, and kneedle must put both knees near ``k``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import stage_main
from edgetune.edge import knee, sweep, sweep_curves, sweep_pool
from edgetune.errors import EdgetuneError
from edgetune.params import Params, load_params
from edgetune.edge.spikefile import SpikeSet, save_spikes

NUM_WEIGHTS = 16
VALUES = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 30, 40]


def clustered_class(rng, clusters: int, samples: int, width: int = 64, active: int = NUM_WEIGHTS, flip: float = 0.01):
    protos = np.zeros((clusters, width), np.uint8)
    for p in protos:
        p[rng.choice(width, active, replace=False)] = 1
    x = protos[rng.integers(0, clusters, samples)]
    return np.where(rng.random(x.shape) < flip, 1 - x, x).astype(np.uint8)


def make_spikes(path: Path, spec: dict[str, tuple[int, int]], seed: int = 0) -> None:
    """Spikes file with classes ``{name: (clusters, train samples)}``, classes interleaved as a real split is."""
    rng = np.random.default_rng(seed)
    xs = [clustered_class(rng, k, n) for k, n in spec.values()]
    y = np.concatenate([np.full(len(x), i, np.int32) for i, x in enumerate(xs)])
    x = np.concatenate(xs)
    order = rng.permutation(len(x))
    save_spikes(path, SpikeSet(x[order], y[order], x[:5], y[:5], np.array(list(spec))))


def write_inputs(root: Path, spec: dict[str, tuple[int, int]], num_weights: int = NUM_WEIGHTS) -> None:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    make_spikes(root / "data" / "spikes.npz", spec)
    (root / "metrics" / "weights.json").write_text(json.dumps({"num_weights": num_weights}))


def sweep_params(**overrides) -> dict:
    values = {"words": "all", "neurons_per_class": VALUES, "repetitions": 2, "jobs": 2}
    values.update(overrides)
    return values


def write_params(root: Path, **overrides) -> Path:
    raw = Params().model_dump()
    raw["sweep"].update(sweep_params(**overrides))
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run_in(root: Path, **overrides) -> dict:
    return sweep.run(
        params_path=write_params(root, **overrides),
        spikes_path=root / "data" / "spikes.npz",
        weights_path=root / "metrics" / "weights.json",
        plots_dir=root / "plots" / "sweep",
        curves_path=root / "plots" / "sweep.csv",
        metrics_path=root / "metrics" / "sweep.json",
        progress=False,
    )


def test_loss_falls_learned_saturates_and_knees_land_near_k(tmp_path):
    write_inputs(tmp_path, {"three": (3, 80), "six": (6, 80)})
    metrics = run_in(tmp_path)
    for word, k in (("three", 3), ("six", 6)):
        table = pd.read_csv(tmp_path / "plots" / "sweep" / f"{word}.csv")
        assert list(table.columns) == sweep_curves.CSV_COLUMNS
        assert table["neurons_per_class"].tolist() == VALUES
        loss = table.set_index("neurons_per_class")["loss_min"]
        learned = table.set_index("neurons_per_class")["learned_min"]
        # falls until k neurons, then stays near zero (a neuron per prototype, 1 % noise)
        assert all(loss[a] > loss[b] for a, b in zip(VALUES[:k - 1], VALUES[1:k]))
        assert loss[1] > 5 and loss[k] < 1 and loss[VALUES[-1]] < 1
        assert (table["loss_mean"] >= table["loss_min"]).all() and (table["loss_std"] >= 0).all()
        # learned neurons follow n up to k, then saturate near k
        assert [learned[n] for n in VALUES[:k]] == VALUES[:k]
        assert all(k <= learned[n] <= 2 * k for n in VALUES if n >= k)
        got = metrics["classes"][word]
        assert k - 1 <= got["loss_knee"] <= k + 2, got
        assert k <= got["learned_knee"] <= 2 * k, got
        assert got["loss_knee_reason"] is None and got["samples"] == 80
        assert got["loss_at_knee"] == pytest.approx(loss[got["loss_knee"]], abs=1e-6)
        assert (tmp_path / "plots" / "sweep" / f"{word}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = metrics["summary"]
    assert summary["classes"] == 2 and summary["classes_with_loss_knee"] == 2
    assert summary["loss_knee_median"] == np.median([metrics["classes"][w]["loss_knee"] for w in ("three", "six")])
    assert metrics["sweep_num_weights"] == NUM_WEIGHTS and metrics["trainings"] == 2 * len(VALUES) * 2
    assert "jobs" not in metrics and "timing" not in metrics  # both follow the machine, not the results
    run = json.loads((tmp_path / "metrics" / "time" / "sweep.json").read_text())
    assert run["sweep_wall_seconds"] > 0 and run["sweep_jobs"] == 2
    curves = pd.read_csv(tmp_path / "plots" / "sweep.csv")
    assert curves["word"].tolist() == ["three"] * len(VALUES) + ["six"] * len(VALUES)


def test_results_do_not_depend_on_workers_nor_on_the_other_classes():
    rng = np.random.default_rng(5)
    spikes = {0: clustered_class(rng, 4, 60), 2: clustered_class(rng, 7, 50)}
    settings = sweep_pool.TrainingSettings(NUM_WEIGHTS, 0.1, seed=3)
    one = sweep_pool.run_trainings(spikes, VALUES, 2, settings, jobs=1, progress=False)
    two = sweep_pool.run_trainings(spikes, VALUES, 2, settings, jobs=2, progress=False)
    alone = sweep_pool.run_trainings({2: spikes[2]}, VALUES, 2, settings, jobs=2, progress=False)
    assert one[3] == 1 and two[3] == 2
    for c in spikes:
        assert np.array_equal(one[0][c], two[0][c]) and np.array_equal(one[1][c], two[1][c])
    assert np.array_equal(alone[0][2], one[0][2]) and np.array_equal(alone[1][2], one[1][2])
    # repetitions are different trainings, and another seed gives other results
    assert not np.array_equal(one[0][0][:, 0], one[0][0][:, 1])
    other = sweep_pool.run_trainings(spikes, VALUES, 2, sweep_pool.TrainingSettings(NUM_WEIGHTS, 0.1, seed=4), jobs=1, progress=False)
    assert not np.array_equal(other[0][0], one[0][0])


def test_all_covers_every_class_and_a_rerun_rewrites_the_folder_byte_for_byte(tmp_path):
    write_inputs(tmp_path, {"a": (2, 40), "b": (3, 40), "_silence_": (2, 30)})
    metrics = run_in(tmp_path, neurons_per_class=[1, 2, 4, 8])
    plots = tmp_path / "plots" / "sweep"
    assert sorted(metrics["classes"]) == ["_silence_", "a", "b"]
    assert sorted(p.name for p in plots.iterdir()) == sorted(f"{w}.{e}" for w in ("a", "b", "_silence_") for e in ("csv", "png"))
    first = {p.name: p.read_bytes() for p in plots.iterdir()}
    # same params → same bytes; fewer words → the removed words' files are gone
    run_in(tmp_path, neurons_per_class=[1, 2, 4, 8])
    assert {p.name: p.read_bytes() for p in plots.iterdir()} == first
    metrics = run_in(tmp_path, neurons_per_class=[1, 2, 4, 8], words=["b"])
    assert sorted(p.name for p in plots.iterdir()) == ["b.csv", "b.png"]
    assert list(metrics["classes"]) == ["b"] and (plots / "b.csv").read_bytes() == first["b.csv"]
    assert not [p for p in (tmp_path / "plots").iterdir() if p.name.startswith(".")]  # no temp folders left


def test_class_with_fewer_samples_than_a_value_warns_and_still_runs(tmp_path, caplog):
    write_inputs(tmp_path, {"few": (2, 6), "many": (2, 40)})
    with caplog.at_level(logging.WARNING, logger="edgetune.edge.sweep"):
        metrics = run_in(tmp_path, neurons_per_class=[2, 4, 8, 16])
    assert metrics["classes"]["few"]["fewer_samples_than"] == [8, 16]
    assert metrics["classes"]["many"]["fewer_samples_than"] == []
    assert "class 'few' has 6 training samples, fewer than neurons_per_class 8, 16" in caplog.text
    assert "wasted" in caplog.text and "'many'" not in caplog.text
    table = pd.read_csv(tmp_path / "plots" / "sweep" / "few.csv")
    assert table["neurons_per_class"].tolist() == [2, 4, 8, 16]
    assert (table["learned_min"] <= 6).all()  # one neuron learns per sample at most


def test_an_absent_class_is_skipped_under_all_but_an_error_by_name(tmp_path):
    root = tmp_path
    (root / "metrics").mkdir()
    (root / "metrics" / "weights.json").write_text('{"num_weights": 16}')
    rng = np.random.default_rng(0)
    x = clustered_class(rng, 2, 30)
    save_spikes(root / "data" / "spikes.npz", SpikeSet(x, np.zeros(30, np.int32), x[:2], np.ones(2, np.int32), np.array(["a", "b"])))
    metrics = run_in(root, neurons_per_class=[1, 2, 4])
    assert list(metrics["classes"]) == ["a"] and metrics["skipped_classes"] == ["b"]
    with pytest.raises(EdgetuneError, match="'b' has no training samples"):
        run_in(root, neurons_per_class=[1, 2, 4], words=["a", "b"])


@pytest.mark.parametrize(
    "overrides, weights, message",
    [
        ({"words": ["a", "sixx"]}, 16, "sweep.words: 'sixx' not among the classes of"),
        ({}, 65, "num_weights = 65 exceeds the spike width 64"),
        ({"words": []}, 16, "sweep.words = []: words must be 'all' or a non-empty list"),
        ({"words": ["a", "a"]}, 16, "without repeats"),
        ({"jobs": -1}, 16, "sweep.jobs = -1"),
        ({"repetitions": 0}, 16, "sweep.repetitions = 0"),
        ({"neurons_per_class": []}, 16, "sweep.neurons_per_class = []"),
        ({"neurons_per_class": [0, 2]}, 16, "sweep.neurons_per_class.0 = 0"),
        ({"knee_sensitivity": 0}, 16, "sweep.knee_sensitivity = 0"),
    ],
)
def test_bad_params_and_inputs_give_clear_errors(tmp_path, overrides, weights, message):
    write_inputs(tmp_path, {"a": (2, 20), "b": (2, 20)}, num_weights=weights)
    with pytest.raises(EdgetuneError) as info:
        run_in(tmp_path, **overrides)
    assert message in str(info.value)
    assert not (tmp_path / "metrics" / "sweep.json").exists()


def test_one_word_as_a_plain_string_is_a_list_of_one():
    # `dvc exp run -S sweep.words=six` writes a string, not a list
    params = Params.model_validate({"sweep": {"words": "six"}})
    assert params.sweep.words == ["six"]
    assert Params.model_validate({"sweep": {"words": "all"}}).sweep.words == "all"


def test_stage_script_fails_with_one_line(tmp_path, capsys, monkeypatch):
    write_inputs(tmp_path, {"a": (2, 20)})
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, words=["zero"])
    assert stage_main("sweep")([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgetune sweep: error: params.yaml: sweep.words: 'zero'")


def test_knee_is_null_with_a_reason_when_the_curve_does_not_bend():
    x = [1, 2, 4, 8, 16, 32, 64]
    straight = -np.log10(x)  # a straight line on the log axis: nothing to pick
    for y, reason in (
        (straight, "no knee"),
        (np.full(7, 3.0), "flat curve"),
    ):
        k = knee.find_knee(x, y, "convex", "decreasing")
        assert k.value is None and k.y is None and reason in k.reason
    assert "at least 3" in knee.find_knee([1, 2], [5.0, 1.0], "convex", "decreasing").reason
    # a learned-neurons curve: learned = n until 10, then flat; offline kneed would answer 1
    values = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 30, 40]
    learned = [min(v, 10) for v in values]
    assert knee.find_knee(values, learned, "concave", "increasing").value == 10


def test_summary_without_knees_says_why():
    none = knee.Knee(None, None, "flat curve")
    summary = sweep_curves.summarise({"a": {"loss": none, "learned": knee.Knee(8, 8.0)}})
    assert summary["loss_knee_median"] is None and "no class has a knee" in summary["loss_knee_reason"]
    assert summary["learned_knee_median"] == 8.0 and summary["learned_knee_reason"] is None


def test_dvc_repro_sweep_then_experiment_with_all_words(dvc_project):
    root = dvc_project.root
    write_inputs(root, {"a": (2, 40), "b": (4, 40), "c": (3, 40)})
    dvc_project.only_stages("sweep")
    dvc_project.set_params(sweep=sweep_params(words=["a", "b"], neurons_per_class=[1, 2, 4, 8, 16]))
    dvc_project.commit("inputs and params")
    dvc_project.run("dvc", "repro", "-s", "sweep")
    assert sorted(p.name for p in (root / "plots" / "sweep").iterdir()) == ["a.csv", "a.png", "b.csv", "b.png"]
    metrics = json.loads((root / "metrics" / "sweep.json").read_text())
    assert sorted(metrics["classes"]) == ["a", "b"]
    vega = json.loads(dvc_project.run("dvc", "plots", "show", "--show-vega", "sweep_loss").stdout)
    assert vega["encoding"]["x"]["scale"]["type"] == "log" and vega["encoding"]["color"]["field"] == "word"
    assert {row["word"] for row in vega["data"]["values"]} == {"a", "b"}
    dvc_project.run("git", "add", "-A")
    dvc_project.commit("sweep a, b")
    assert "didn't change" in dvc_project.run("dvc", "repro", "-s", "sweep").stdout
    dvc_project.run("dvc", "exp", "run", "-s", "sweep", "-S", "sweep.words=all")
    assert load_params(root / "params.yaml").sweep.words == "all"
    metrics = json.loads((root / "metrics" / "sweep.json").read_text())
    assert sorted(metrics["classes"]) == ["a", "b", "c"]
    assert len(list((root / "plots" / "sweep").glob("*.csv"))) == 3


def test_atomic_directory_keeps_the_old_folder_when_the_writer_fails(tmp_path):
    from edgetune.atomic import atomic_directory

    target = tmp_path / "plots" / "sweep"
    with atomic_directory(target) as out:
        (out / "old.csv").write_text("1\n")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as out:
            (out / "new.csv").write_text("2\n")
            raise RuntimeError("plotting failed")
    assert [p.name for p in target.iterdir()] == ["old.csv"]
    assert [p.name for p in target.parent.iterdir()] == ["sweep"]
