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
from edgetune import stats
from edgetune.edge import layer as edge_layer, table, table_stats, table_train, whole_model
from edgetune.dataset import KwsDataset, save_dataset
from edgetune.errors import EdgetuneError
from edgetune.params import TableParams, parse_params
from edgetune.edge.spikefile import SpikeSet, load_spikes, save_spikes

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
    (root / "results").mkdir(exist_ok=True)
    (root / "results/num_weights.json").write_text(json.dumps({"num_weights": num_weights}))
    (root / "metrics/data.json").write_text(json.dumps({"num_classes": len(CLASSES)}))  # the hardware stage's


def write_params(path: Path, **table_values) -> None:
    import yaml

    # jobs 1: on tiny data, starting spawned workers costs more than the fits
    raw = {"table": {"neurons_per_class": [2, 4], "reference": 4, "seeds": [0, 1], "timing_repeats": 3, "jobs": 1,
                     **table_values}}
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


def test_item_trains_every_value_and_times_them_in_rounds_apart_from_the_accuracies(tiny, tmp_path):
    write_params(tmp_path / "params.yaml")  # values [2, 4], seeds [0, 1], timing_repeats 3
    paths = {**item_paths(tiny), "results_dir": tmp_path / "results"}
    result = table_train.run(0, params_path=tmp_path / "params.yaml", **paths)
    assert json.loads((tmp_path / "results/seed-0.json").read_text()) == result
    assert result["seed"] == 0 and result["neurons_per_class"] == [2, 4] and list(result["runs"]) == ["2", "4"]
    assert result["train_samples"] == 120 and result["val_samples"] == 36 and result["num_weights"] == 8
    # three random templates under ±40 noise are far apart in the tiny extractor's spikes: every
    # sample is right, and every neuron of every class learns
    for npc, run in result["runs"].items():
        assert run["train_accuracy"] == 1.0  # the first seed scores train accuracy (a diagnostic)
        assert run["val_accuracy"] == 1.0
        assert run["learned_neurons"] == 3 * int(npc)
        assert run["per_class_val_accuracy"] == {"six": 1.0, "yes": 1.0, "no": 1.0}
        assert not any("seconds" in key for key in run)  # no timing among the accuracies
    times = json.loads((tmp_path / "results/seed-0.time.json").read_text())
    # 3 repeats over 2 seeds: 2 rounds per seed, each the extractor's forward over all 120 training
    # samples, then every value's fit on all of them
    assert times["rounds"] == 2 and times["samples"] == 120 and times["timing"] == table_train.TIMING_VERSION
    assert times["forward_timed_samples"] == 120  # below FORWARD_TIMED_SAMPLES: every sample timed
    for timing in [times["forward"], *times["edge_fit"].values()]:
        assert timing["repeats"] == 2 and len(timing["wall"]) == len(timing["cpu"]) == 2
        assert timing["seconds"] == min(timing["wall"]) and timing["cpu_seconds"] == min(timing["cpu"])
    # each round's ratio from its own F and fits; the reference's is 1 in every round
    for clock in ("cpu", "wall"):
        f, e2, e4 = times["forward"][clock], times["edge_fit"]["2"][clock], times["edge_fit"]["4"][clock]
        assert times["round_ratios"][clock]["4"] == [1.0, 1.0]
        assert times["round_ratios"][clock]["2"] == pytest.approx([(a + b) / (a + c) for a, b, c in zip(f, e2, e4)],
                                                                  rel=1e-3)  # from µs-rounded times
    # the first seed checks F + E against one direct fit: extractor + edge layer; 120 samples are fewer than
    # FORWARD_TIMED_SAMPLES, so all of them (k = 1) reached its fit
    check = times["check"]
    assert check["mode"] == whole_model.COMPOSED and check["samples"] == 120
    assert check["same_weights"] is True and check["neurons_per_class"] == 4 and check["seed"] == 0
    assert check["direct_over_sum"] == pytest.approx(check["direct_seconds"] / check["forward_plus_fit_seconds"], abs=2e-3)
    # on CPU time, the clock of the ratio; F and E measured by the check itself, on its own samples
    assert check["clock"] == "process CPU time" and check["direct_wall_seconds"] > 0
    assert check["forward_plus_fit_seconds"] > 0
    # the seed drives shuffling and initial weights: another run gives the same bytes of accuracies
    first = (tmp_path / "results/seed-0.json").read_bytes()
    table_train.run(0, params_path=tmp_path / "params.yaml", **paths)
    assert (tmp_path / "results/seed-0.json").read_bytes() == first
    # another seed: no train accuracy (its cost), no second check
    other = table_train.run(1, params_path=tmp_path / "params.yaml", **paths)
    assert all(run["train_accuracy"] is None for run in other["runs"].values())
    assert "check" not in json.loads((tmp_path / "results/seed-1.time.json").read_text())


def test_rounds_fit_the_biggest_layers_first(tiny, tmp_path, monkeypatch):
    from edgetune.edge import layer as edge

    write_params(tmp_path / "params.yaml", neurons_per_class=[2, 3, 4], timing_repeats=4)  # 2 rounds per seed
    order, train = [], edge.train
    monkeypatch.setattr(edge, "train", lambda x, y, config: order.append(config.neurons_per_class) or train(x, y, config))
    table_train.run(1, params_path=tmp_path / "params.yaml", **{**item_paths(tiny), "results_dir": tmp_path / "r"})
    assert order == [4, 3, 2, 4, 3, 2]


def test_two_fit_workers_give_the_bytes_of_one_process(tiny, tmp_path):
    results = {}
    for jobs in (1, 2):
        write_params(tmp_path / f"params-{jobs}.yaml", neurons_per_class=[2, 3, 4], reference=3, timing_repeats=4,
                     jobs=jobs)
        out = tmp_path / f"results-{jobs}"
        table_train.run(0, params_path=tmp_path / f"params-{jobs}.yaml", **{**item_paths(tiny), "results_dir": out})
        results[jobs] = (out / "seed-0.json").read_bytes(), json.loads((out / "seed-0.time.json").read_text())
    assert results[1][0] == results[2][0]  # accuracies, learned neurons, per-class rates: the same bytes
    for jobs, (_, times) in results.items():
        assert times["fit_workers"] == jobs and times["timing"] == 4 and times["rounds"] == 2
        # every value's fit timed in both rounds, each on its own worker's CPU clock
        assert {v: len(t["cpu"]) for v, t in times["edge_fit"].items()} == {"2": 2, "3": 2, "4": 2}
        assert all(c > 0 for t in times["edge_fit"].values() for c in t["cpu"])


def test_timed_rounds_name_what_they_measured(tiny):
    from edgetune.dataset import load_dataset
    from edgetune.extractor.check import load_extractor

    params = TableParams(neurons_per_class=[2, 3, 4], reference=3, seeds=[0, 1], timing_repeats=4, jobs=1)  # 2 rounds
    spikes = load_spikes(tiny / "data/spikes.npz")
    extractor = load_extractor(tiny / "models/extractor.fbz", spikes.width)
    x_mfcc = load_dataset(tiny / "data/kws.npz").x_train
    rounds = table_train.timed_rounds(0, params, 8, spikes, extractor, x_mfcc, score_train=False)
    assert rounds._fields == ("runs", "forward", "fits", "timed_samples", "reference")
    assert sorted(rounds.runs) == sorted(rounds.fits) == [2, 3, 4]  # every value scored once, in the first round
    assert [len(rounds.forward.wall), *(len(t.cpu) for t in rounds.fits.values())] == [2, 2, 2, 2]
    assert rounds.timed_samples == len(x_mfcc)
    assert rounds.reference.neurons_per_class == 3


def test_forward_is_timed_on_every_kth_sample_and_scaled_to_all():
    x = np.arange(33000)
    timed = table_train.timed_forward_samples(x)
    assert len(timed) == 2063 and timed[1] == 16 and timed[-1] == 32992  # k = 33000 // 2048 = 16
    assert len(table_train.timed_forward_samples(x[:2048 * 2 - 1])) == 4095  # k = 1 below twice the floor


def test_a_timing_measured_on_a_part_records_the_whole(monkeypatch):
    import edgetune.timing

    clocks = {"perf_counter": iter([10.0, 10.5]), "process_time": iter([1.0, 1.25])}
    fake = type("Clock", (), {name: staticmethod(lambda it=it: next(it)) for name, it in clocks.items()})
    monkeypatch.setattr(edgetune.timing, "time", fake)
    timing = edgetune.timing.Timing()
    assert timing.measure(lambda: "done", scale=8.0) == "done"
    assert (timing.wall, timing.cpu) == ([4.0], [2.0])  # 8 × the 0.5 s and 0.25 s measured


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
    from edgetune.edge import layer as edge

    spikes = load_spikes(tiny / "data/spikes.npz")
    x_mfcc = np.load(tiny / "data/kws.npz")["x_train"]
    tiny_akida2_extractor(tmp_path / "v2.fbz", WIDTH)
    config = edge.EdgeConfig(3, 2, 8)
    fit = whole_model.fit_whole_model(tmp_path / "v2.fbz", x_mfcc, spikes.y_train, config, WIDTH, edge_fit_seconds=5.0)
    assert fit.mode == whole_model.SUMMED and fit.trained is None
    assert fit.seconds > 5.0  # forward time + the edge layer's own fit time
    assert fit.samples == len(x_mfcc)  # every sample went through the extractor
    assert "cannot train an edge layer after this extractor" in caplog.text
    composed = whole_model.fit_whole_model(tiny / "models/extractor.fbz", x_mfcc, spikes.y_train, config, WIDTH, 5.0)
    assert composed.mode == whole_model.COMPOSED and composed.seconds < 5.0 and composed.samples == len(x_mfcc)


def test_item_input_errors_are_clear(tiny, tmp_path):
    write_params(tmp_path / "params.yaml")
    paths = {**item_paths(tiny), "results_dir": tmp_path / "r"}
    with pytest.raises(EdgetuneError, match=r"--seed 7: not in table.seeds \[0, 1\]"):
        table_train.run(7, tmp_path / "params.yaml", **paths)
    with pytest.raises(EdgetuneError, match=r"extractor.fbz: not found; run the extractor stage first"):
        table_train.run(0, tmp_path / "params.yaml", **{**paths, "extractor_path": tmp_path / "models/extractor.fbz"})
    make_tiny_extractor(tmp_path / "wide.fbz", np.load(tiny / "data/kws.npz")["x_train"], width=WIDTH + 8)
    with pytest.raises(EdgetuneError, match=r"wide.fbz: outputs \(1, 1, 32\) but the spikes are 24 wide; the spikes are stale, rerun dvc repro spikes"):
        table_train.run(0, tmp_path / "params.yaml", **{**paths, "extractor_path": tmp_path / "wide.fbz"})
    (tmp_path / "w.json").write_text('{"num_weights": 25}')
    with pytest.raises(EdgetuneError, match=r"num_weights = 25: must be between 1 and the spike width 24"):
        table_train.run(0, tmp_path / "params.yaml", **{**paths, "weights_path": tmp_path / "w.json"})
    short = load_spikes(tiny / "data/spikes.npz")
    save_spikes(tmp_path / "short.npz", SpikeSet(short.x_train[:-3], short.y_train[:-3], short.x_val, short.y_val, CLASSES))
    with pytest.raises(EdgetuneError, match=r"117 training samples do not match the 120 .*rerun dvc repro spikes"):
        table_train.run(0, tmp_path / "params.yaml", **{**paths, "spikes_path": tmp_path / "short.npz"})
    assert not (tmp_path / "r").exists()


def fake_seeds(accuracies: dict[int, list[float]], fits: dict[int, float], forward: float = 10.0, reference: int = 300,
               seeds=(0, 1, 2), lc=0.1, timing=table_train.TIMING_VERSION, repeats: int = 3,
               num_classes: int = 3) -> list[tuple[dict, dict]]:
    """The items' two files as table-train writes them: one seed each, every value in it; one round per seed."""
    values = list(accuracies)
    files = []
    for i, seed in enumerate(seeds):
        runs = {str(v): {"val_accuracy": accs[i], "train_accuracy": min(1.0, accs[i] + 0.05) if i == 0 else None,
                         "learned_neurons": 3 * v - 1, "per_class_val_accuracy": {"no": accs[0], "six": accs[0], "yes": accs[0]}}
                for v, accs in accuracies.items()}
        common = {"seed": seed, "num_weights": 8, "learning_competition": lc, "neurons_per_class": values}
        result = {**common, "num_classes": num_classes, "train_samples": 120, "val_samples": 36, "runs": runs}
        wall = 1 + 0.1 * i  # the host a little slower for each later seed: every time scales alike
        f = forward * wall

        def timed(t: float) -> dict:
            return {"seconds": t, "cpu_seconds": t, "spread": 0.0, "repeats": 1, "wall": [t], "cpu": [t]}

        def ratios(wall_forward: float) -> dict:
            return {str(v): [round((wall_forward + fits[v] * wall) / (wall_forward + fits[reference] * wall), 6)]
                    for v in values}

        times = {**common, "reference": reference, "timing": timing, "timing_repeats": repeats, "rounds": 1,
                 "samples": 120, "forward_timed_samples": 60, "fit_workers": 1, "forward": {**timed(f), "seconds": f / 2, "wall": [f / 2]}, "edge_fit": {str(v): timed(fits[v] * wall) for v in values},
                 "round_ratios": {"cpu": ratios(f), "wall": ratios(f / 2)}}  # F's wall: 2 threads
        if i == 0:
            times["check"] = {"mode": whole_model.COMPOSED, "neurons_per_class": reference, "seed": seed, "samples": 120,
                              "direct_seconds": forward + 3.2, "forward_plus_fit_seconds": forward + 3.0,
                              "direct_over_sum": 1.0154, "same_weights": True}
        files.append((result, times))
    return files


def write_results(results_dir: Path, files: list[tuple[dict, dict]]) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    for r, t in files:
        (results_dir / f"seed-{r['seed']}.json").write_text(json.dumps(r))
        (results_dir / f"seed-{r['seed']}.time.json").write_text(json.dumps(t))


# The tutorial's accuracies as three seeds: each seed's order shifts every value alike by ±0.3 points
# (what pairing cancels), plus ±0.05 points that differ from value to value (what it cannot).
TUTORIAL = {10: 0.916, 20: 0.918, 50: 0.921, 100: 0.923, 200: 0.925, 300: 0.926, 400: 0.925, 500: 0.925}
SHARED, OWN = (-0.003, 0.0, 0.003), (-0.0005, 0.0, 0.0005)


def tutorial_accuracies(i: int, acc: float) -> list[float]:
    own = OWN[i % 3:] + OWN[:i % 3]
    return [acc + s + o for s, o in zip(SHARED, own)]


def tutorial_results() -> list[tuple[dict, dict]]:
    return fake_seeds({n: tutorial_accuracies(i, a) for i, (n, a) in enumerate(TUTORIAL.items())},
                      {n: n / 100 for n in TUTORIAL})


def table_outputs(tmp_path: Path) -> dict:
    return {name: tmp_path / name for name in ("table.json", "table.md", "table.csv", "table_time.csv",
                                               "per_class.csv", "table.png")}


def run_table(tmp_path: Path, out: dict) -> dict:
    return table.run(tmp_path / "params.yaml", tmp_path / "results", out["table.json"], out["table.md"],
                     out["table.csv"], out["table_time.csv"], out["per_class.csv"], out["table.png"])


def test_table_rows_ratios_plateau_and_outputs(tmp_path):
    write_results(tmp_path / "results", tutorial_results())
    write_results(tmp_path / "results", fake_seeds({10: [0.99]}, {10: 1}, reference=10, seeds=(7,)))  # an orphan seed: ignored
    write_params(tmp_path / "params.yaml", neurons_per_class=list(TUTORIAL), reference=300, seeds=[0, 1, 2])
    out = table_outputs(tmp_path)
    t = run_table(tmp_path, out)
    assert json.loads(out["table.json"].read_text()) == t
    tm = json.loads((tmp_path / "time" / "table.json").read_text())  # timings beside, in time/
    assert set(t["rows"]) == set(tm["rows"]) == {str(n) for n in TUTORIAL}  # keyed by value (JSON sorts keys)
    assert not any("seconds" in k or "ratio" in k for row in t["rows"].values() for k in row)
    assert tm["rows"]["300"]["time_ratio_edge"] == 1 and tm["rows"]["300"]["time_ratio_model"] == 1
    assert tm["rows"]["10"]["time_ratio_edge"] == pytest.approx(0.1 / 3, abs=1e-3)
    # whole model = F + E: (10 + 5) / (10 + 3) in every round, though each later seed ran 10 % slower
    assert tm["rows"]["500"]["time_ratio_model"] == pytest.approx(15 / 13, abs=1e-3)
    assert tm["rows"]["500"]["time_ratio_model_low"] == tm["rows"]["500"]["time_ratio_model_high"] == pytest.approx(15 / 13, abs=1e-3)
    assert tm["rows"]["500"]["whole_model_cpu_seconds"] == pytest.approx(15.0)  # the minima: the fastest seed's
    assert tm["rows"]["500"]["edge_fit_spread"] == pytest.approx(0.2)
    # on the wall clock F took half its CPU time (2 threads): the same fits weigh more, (5 + 5) / (5 + 3)
    assert tm["rows"]["500"]["time_ratio_model_wall"] == pytest.approx(10 / 8, abs=1e-3)
    assert tm["rows"]["500"]["whole_model_seconds"] == pytest.approx(10.0)
    assert tm["monotone"] is True and tm["forward_cpu_seconds"] == 10.0 and tm["forward_seconds"] == 5.0
    assert tm["check"]["same_weights"] is True
    assert tm["rounds"] == 3 and "process CPU time, median over the rounds" in tm["method"]
    assert "all 120 training samples (timed on 60 of them, every k-th, and scaled)" in tm["method"]
    assert t["best_neurons_per_class"] == 300 and t["best_val_accuracy"] == pytest.approx(0.926)
    # paired by seed, only the ±0.05 points count: 100 is 0.3 points below (significant), 200..500 are
    # within 0.1 point of 300 (noise); the plateau is the smallest of those. Unpaired, each mean's
    # interval (±0.7 points) would swallow every gap from 50 up.
    assert t["plateau_neurons_per_class"] == 200
    assert [t["rows"][str(n)]["below_best"] for n in TUTORIAL] == [True] * 4 + [False] * 4
    assert t["rows"]["300"]["val_accuracy_ci95"] == pytest.approx(
        stats.estimate(tutorial_accuracies(5, 0.926)).half_width, abs=1e-6)
    assert t["rows"]["300"]["train_accuracy"] == pytest.approx(tutorial_accuracies(5, 0.926)[0] + 0.05)  # the first seed's
    md = out["table.md"].read_text()
    assert "| Nb. neurons | Val accuracy | Time ratio (rounds' range) | Time ratio (edge layer) | Gap to best |" in md
    assert "| Time ratio (wall clock) | Fit time, whole model (CPU) |" in md and "F = 10.00 s CPU (5.00 s wall" in md
    assert "| 300 | 92.6 ± 0.7 % | 1.00 (1.00–1.00) | 1.00 | best |" in md
    assert "| 200 ← | 92.5 ± 0.7 % | 0.92 (0.92–0.92) | 0.67 | 0.1 ± 0.2 |" in md and "**200** neurons per class" in md
    assert "| 50 | 92.1 ± 0.7 % |" in md and "0.5 ± 0.0 below" in md
    assert "| 1000" not in md and "Warning" not in md
    assert "direct fit of the whole model at 300" in md and "ratio 1.015" in md
    csv = pd.read_csv(out["table.csv"])
    assert csv.neurons_per_class.tolist() == list(TUTORIAL)
    assert csv.val_accuracy_low.tolist() == pytest.approx((csv.val_accuracy - [t["rows"][str(n)]["val_accuracy_ci95"]
                                                                               for n in TUTORIAL]).tolist())
    times = pd.read_csv(out["table_time.csv"])
    assert times.loc[times.neurons_per_class == 300, "time_ratio_model"].item() == 1
    assert len(pd.read_csv(out["per_class.csv"])) == 3 * len(TUTORIAL)
    assert out["table.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_ratio_is_the_median_of_the_rounds_so_one_disturbed_round_does_not_move_it(tmp_path):
    files = fake_seeds({2: [0.9] * 3, 4: [0.9] * 3}, {2: 1.0, 4: 2.0}, reference=4)
    files[1][1]["round_ratios"]["cpu"]["2"] = [0.5]  # one round disturbed (another job took the core mid-round)
    write_results(tmp_path / "results", files)
    params = TableParams(neurons_per_class=[2, 4], reference=4, seeds=[0, 1, 2], timing_repeats=3)
    tm = table.build_table(params, tmp_path / "results")[1]
    assert tm["rows"]["2"]["time_ratio_model"] == pytest.approx(11 / 12, abs=1e-3)
    assert tm["rows"]["2"]["time_ratio_model_low"] == 0.5


def test_table_warns_when_the_direct_fit_learned_other_weights(tmp_path):
    files = tutorial_results()
    files[0][1]["check"]["same_weights"] = False
    write_results(tmp_path / "results", files)
    write_params(tmp_path / "params.yaml", neurons_per_class=list(TUTORIAL), reference=300, seeds=[0, 1, 2])
    out = table_outputs(tmp_path)
    run_table(tmp_path, out)
    assert "**Warning:** it learned other weights than the edge layer" in out["table.md"].read_text()


def test_a_gap_inside_the_seeds_spread_is_indistinguishable_and_one_well_outside_is_not():
    # three seeds scatter by ±1 point, independently: a 0.5-point gap is noise
    noisy = [[0.80, 0.82, 0.81], [0.81, 0.80, 0.825]]
    assert table_stats.plateau([10, 20], noisy)[0] == 10
    # the same seeds, 3 points apart at every seed: significant, whatever the scatter between seeds
    shifted = [[0.77, 0.79, 0.78], [0.80, 0.82, 0.81]]
    plateau, comparison = table_stats.plateau([10, 20], shifted)
    assert plateau == 20 and comparison.below == [True, False]
    assert comparison.gaps[0].mean == pytest.approx(0.03) and comparison.gaps[0].half_width == pytest.approx(0, abs=1e-12)
    # ties: the smallest value is the best
    assert table_stats.plateau([10, 20, 50], [[0.9, 0.9], [0.9, 0.9], [0.5, 0.5]])[0] == 10


def test_table_refuses_missing_stale_and_differently_timed_results(tmp_path):
    params = TableParams(neurons_per_class=[2, 4], reference=4, seeds=[0, 1, 2], timing_repeats=3)
    accs, fits = {2: [0.9] * 3, 4: [0.9] * 3}, {2: 1.0, 4: 2.0}
    write_results(tmp_path / "results", fake_seeds(accs, fits, reference=4, seeds=(0, 1)))
    with pytest.raises(EdgetuneError, match=r"seed-2.json: not found; train that seed first \(dvc repro table-train@2\)"):
        table.build_table(params, tmp_path / "results")
    write_results(tmp_path / "results", fake_seeds({2: [0.9] * 3}, fits, reference=4))
    with pytest.raises(EdgetuneError, match=r"seed-0.json: made with neurons_per_class = \[2\], but the params say \[2, 4\]; it is stale, rerun dvc repro table-train@0"):
        table.build_table(params, tmp_path / "results")
    write_results(tmp_path / "results", fake_seeds(accs, fits, reference=4, timing=1))
    with pytest.raises(EdgetuneError, match=r"seed-0.time.json: timed with method 1 for 3 repeats, not as the other seeds \(method 4, 3\)"):
        table.build_table(params, tmp_path / "results")
    write_results(tmp_path / "results", fake_seeds(accs, fits, reference=2))
    with pytest.raises(EdgetuneError, match=r"seed-0.time.json: made with reference = 2, but the params say 4; it is stale, rerun dvc repro table-train@0"):
        table.build_table(params, tmp_path / "results")
    files = fake_seeds(accs, fits, reference=4)
    del files[0][1]["check"]
    write_results(tmp_path / "results", files)
    with pytest.raises(EdgetuneError, match=r"seed-0.time.json: no direct whole-model check"):
        table.build_table(params, tmp_path / "results")
    files = fake_seeds(accs, {2: 1.0, 4: 0.0}, reference=4)  # a reference fit of 0 s: no ratio can be taken
    write_results(tmp_path / "elsewhere", files)
    with pytest.raises(EdgetuneError, match=r"elsewhere/seed-0.time.json: edge fit 0.0 s at 4 cannot be the reference"):
        table.build_table(params, tmp_path / "elsewhere")


@pytest.mark.parametrize(
    "values, message",
    [
        ({"neurons_per_class": [2, 4], "reference": 3}, "table: reference 3 is not in neurons_per_class [2, 4]"),
        ({"neurons_per_class": []}, "table.neurons_per_class = []: neurons_per_class must list at least one value"),
        ({"neurons_per_class": [2, 4, 2], "reference": 4}, "neurons_per_class repeats [2]"),
        ({"neurons_per_class": [2, 4], "reference": 4, "seeds": [0]}, "seeds must list at least 2 seeds"),
        ({"neurons_per_class": [2, 4], "reference": 4, "seeds": [1, 1]}, "seeds repeat"),
        ({"neurons_per_class": [2, 4], "reference": 4, "timing_repeats": 0}, "timing_repeats = 0"),
        ({"jobs": -1}, "table.jobs = -1: Input should be greater than or equal to 0"),
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


def test_dvc_matrix_trains_one_item_per_seed_and_reruns_what_a_change_touches(dvc_project):
    tiny_inputs(dvc_project.root)
    dvc_project.set_params(table={"neurons_per_class": [2, 4], "reference": 4, "seeds": [0, 1], "timing_repeats": 2,
                                  "jobs": 1})
    dvc_project.commit("tiny inputs")
    assert ran(repro_table(dvc_project)) == {"table-train@0", "table-train@1", "table"}
    metrics = json.loads((dvc_project.root / "metrics/table.json").read_text())
    times = json.loads((dvc_project.root / "metrics/time/table.json").read_text())
    assert list(metrics["rows"]) == list(times["rows"]) == ["2", "4"]
    assert times["rows"]["4"]["time_ratio_edge"] == 1 and times["rows"]["4"]["time_ratio_model"] == 1
    assert times["rounds"] == 2  # one round per seed
    for npc, row in metrics["rows"].items():  # every sample right with both seeds (as in the item test above)
        assert (row["val_accuracy"], row["val_accuracy_min"], row["val_accuracy_max"], row["val_accuracy_ci95"],
                row["train_accuracy"], row["learned_neurons"]) == (1.0, 1.0, 1.0, 0.0, 1.0, 3.0 * int(npc))
    assert times["check"]["same_weights"] is True
    assert all(row["edge_memory"] == "on-chip" and row["program_bytes"] > 0 for row in metrics["rows"].values())
    assert (dvc_project.root / "plots/table.png").exists()
    assert "| 4 |" in (dvc_project.root / "metrics/table.md").read_text()

    # a value is timed beside the others, so every seed trains it
    dvc_project.set_params(table={"neurons_per_class": [2, 3, 4]})
    assert ran(repro_table(dvc_project)) == {"table-train@0", "table-train@1", "table"}
    assert list(json.loads((dvc_project.root / "metrics/table.json").read_text())["rows"]) == ["2", "3", "4"]

    dvc_project.set_params(table={"seeds": [0, 2]})  # seed-1.json stays on disk, but the table ignores it
    assert ran(repro_table(dvc_project)) == {"table-train@0", "table-train@2", "table"}
    assert (dvc_project.root / "results/table/seed-1.json").exists()
    assert json.loads((dvc_project.root / "metrics/table.json").read_text())["seeds"] == [0, 2]
    assert pd.read_csv(dvc_project.root / "plots/table.csv").neurons_per_class.tolist() == [2, 3, 4]
    (dvc_project.root / "metrics/weights.json").write_text(json.dumps({"num_weights": 8, "median_spikes": 7.0}))
    assert ran(repro_table(dvc_project)) == set()  # the weights stage's other metrics: nothing retrains
    (dvc_project.root / "results/num_weights.json").write_text(json.dumps({"num_weights": 7}))
    assert ran(repro_table(dvc_project)) == {"table-train@0", "table-train@2", "table"}


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


def test_the_direct_check_fits_every_kth_sample_of_the_seeds_order(tiny):
    """On the samples F is timed on: k = 2 takes 60 of the 120, in the first seed's order."""
    from edgetune.dataset import load_dataset
    from edgetune.edge.whole_check import direct_check

    spikes = load_spikes(tiny / "data/spikes.npz")
    x_mfcc = load_dataset(tiny / "data/kws.npz").x_train
    config = edge_layer.EdgeConfig(spikes.num_classes, 4, 8, 0.1, 0)
    check = direct_check(tiny / "models/extractor.fbz", spikes, x_mfcc, config, stride=2)
    assert check["samples"] == 60 and check["same_weights"] is True and check["seed"] == 0
