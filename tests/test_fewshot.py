"""The new words (fetch-new-words) and the fewshot stage, on tiny data, real engine, real DVC."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from akida_fixtures import make_tiny_extractor
from edgetune import cli
from edgetune.data import new_words, synthetic
from edgetune.edge import layer as edge, fewshot, fewshot_arms
from edgetune.dataset import KwsDataset, load_dataset, save_dataset
from edgetune.params import DataParams, parse_params
from edgetune.edge.spikefile import SpikeSet, load_spikes, save_spikes
from edgetune.errors import EdgetuneError
from edgetune.report.report_fewshot import fewshot_section

OLD = np.array(["_silence_", "six", "yes", "no"])
NEW = np.array(["backward", "follow", "forward"])
WIDTH, NPC, NUM_WEIGHTS = 24, 3, 8


def tiny_inputs(root: Path, new_train: int = 12, new_val: int = 6) -> None:
    """What fetch, fetch-new-words, extractor, spikes, weights and table leave: old and new words apart."""
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, (len(OLD) + len(NEW), 49, 10, 1))

    def split(labels, per_class, offset=0):
        y = np.repeat(np.arange(len(labels), dtype=np.int32), per_class)
        noise = rng.integers(-40, 41, (len(y), 49, 10, 1))
        return np.clip(templates[y + offset] + noise, 0, 255).astype(np.uint8), y

    (x_train, y_train), (x_val, y_val) = split(OLD, 30), split(OLD, 10)
    save_dataset(root / "data/kws.npz", KwsDataset(x_train, y_train, x_val, y_val, OLD))
    (nx_train, ny_train), (nx_val, ny_val) = split(NEW, new_train, len(OLD)), split(NEW, new_val, len(OLD))
    voices = lambda y, who: np.array([f"{who}{i % 2}" for i in range(len(y))])  # noqa: E731
    new_words.save_new_words(root / "data/new_words.npz", KwsDataset(
        nx_train, ny_train, nx_val, ny_val, NEW, voices(ny_train, "train"), voices(ny_val, "val")))
    (root / "models").mkdir(parents=True, exist_ok=True)
    extractor = make_tiny_extractor(root / "models/extractor.fbz", x_train, width=WIDTH)
    save_spikes(root / "data/spikes.npz", SpikeSet(extractor.forward(x_train), y_train, extractor.forward(x_val),
                                                    y_val, OLD))
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results/num_weights.json").write_text(json.dumps({"num_weights": NUM_WEIGHTS}))
    (root / "metrics/table.json").write_text(json.dumps({"plateau_neurons_per_class": NPC}))


def write_params(root: Path, **fewshot_values) -> None:
    raw = {"fewshot": {"shots": [1, 4], "seeds": [0, 1], "heard_words": [], "jobs": 1, **fewshot_values}}
    (root / "params.yaml").write_text(yaml.safe_dump(raw, default_flow_style=False))


def paths(root: Path) -> dict:
    return dict(spikes_path=root / "data/spikes.npz", new_words_path=root / "data/new_words.npz",
                extractor_path=root / "models/extractor.fbz", weights_path=root / "results/num_weights.json",
                table_path=root / "metrics/table.json", metrics_path=root / "metrics/fewshot.json",
                plot_path=root / "plots/fewshot.csv")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fewshot")
    tiny_inputs(root)
    return root


def new_spikes(root: Path):
    new = new_words.load_new_words(root / "data/new_words.npz")
    old = load_spikes(root / "data/spikes.npz")
    return old, new, fewshot.forward_new(new, root / "models/extractor.fbz", old.width, 64)


def test_new_classes_come_after_the_old_ones_and_retention_is_the_layers_own_predictions(tiny, tmp_path):
    old, new, (x_new_train, x_new_val) = new_spikes(tiny)
    config = edge.EdgeConfig(old.num_classes, NPC, NUM_WEIGHTS, 0.1, 0)
    runs = fewshot.run_seed(config, old, (x_new_train, x_new_val), new, [1, 4, 12], tmp_path)
    # the base layer is the table's: the same order and initial weights give the same predictions
    from edgetune.edge import table_train

    x, y = table_train.shuffled(old, 0)
    table_layer = edge.train(x, y, config)
    before = edge.predict_classes(old.x_val, table_layer)
    assert {r["old_accuracy_before"] for r in runs} == {float(np.mean(before == old.y_val))}
    # add_classes: old neurons untouched, new neurons after them; only new neurons learn from the shots
    base = edge.build_model(old.width, config)
    edge.fit_in_chunks(base, x.reshape(len(x), 1, 1, -1), y, config.units)
    base.save(str(tmp_path / "base.fbz"))
    model = fewshot_arms.with_new_classes(tmp_path / "base.fbz", config, len(NEW))
    w_before = base.get_layer(edge.LAYER_NAME).get_variable("weights")
    w_after = model.get_layer(edge.LAYER_NAME).get_variable("weights")
    assert w_after.shape[-1] == (len(OLD) + len(NEW)) * NPC
    assert np.array_equal(w_after[..., : config.units], w_before)
    assert (w_after[..., config.units:].sum(axis=2) == NUM_WEIGHTS).all()
    learned_before = model.get_layer(edge.LAYER_NAME).get_variable("threshold_learning").reshape(-1) > 0
    pick = fewshot.draw_shots(new.y_train, NEW.tolist(), 4, 0)
    model.fit(x_new_train[pick].reshape(len(pick), 1, 1, -1), new.y_train[pick] + len(OLD))
    learned = model.get_layer(edge.LAYER_NAME).get_variable("threshold_learning").reshape(-1) > 0
    assert np.array_equal(learned[: config.units], learned_before[: config.units])
    assert learned[config.units:].sum() > 0
    after = fewshot_arms.predict(model, old.x_val, len(OLD) + len(NEW))
    row = next(r for r in runs if r["shots"] == 4)
    assert row["old_predictions_kept"] == float(np.mean(after == before))
    assert row["old_accuracy"] == float(np.mean(after == old.y_val))
    assert row["old_loss"] == pytest.approx(row["old_accuracy_before"] - row["old_accuracy"])
    assert row["old_as_new"] == float(np.mean(after >= len(OLD)))
    # templates this distinct: the new words are learned, the old classes barely move
    assert runs[-1]["new_accuracy"] > 0.8 and runs[-1]["new_as_old"] < 0.2
    assert runs[-1]["old_predictions_kept"] > 0.8


def test_shots_are_drawn_without_replacement_from_training_samples_only_nested_and_seeded(tiny):
    new = new_words.load_new_words(tiny / "data/new_words.npz")
    words = NEW.tolist()
    five, two = fewshot.draw_shots(new.y_train, words, 5, 3), fewshot.draw_shots(new.y_train, words, 2, 3)
    assert len(set(five.tolist())) == len(five) == 5 * len(words)  # no sample twice
    assert five.max() < len(new.y_train)  # indices of the training split: the validation voices never
    assert np.bincount(new.y_train[five]).tolist() == [5, 5, 5]
    assert set(two.tolist()) <= set(five.tolist())  # nested: the 2 shots are among the 5
    assert np.array_equal(five, fewshot.draw_shots(new.y_train, words, 5, 3))
    assert not np.array_equal(np.sort(five), np.sort(fewshot.draw_shots(new.y_train, words, 5, 4)))


def test_stage_writes_rows_keyed_by_shots_with_intervals_deterministically(tiny, tmp_path):
    root = tmp_path / "p"
    shutil.copytree(tiny, root)
    write_params(root)
    result = fewshot.run(root / "params.yaml", **paths(root))
    saved = json.loads((root / "metrics/fewshot.json").read_text())["fewshot"]
    assert list(saved["rows"]) == ["1", "4"] and saved["neurons_per_class"] == NPC
    for row in saved["rows"].values():
        assert row["new_accuracy"]["n"] == 2 and row["new_accuracy"]["ci95"] >= 0
        assert set(row["new_per_word"]) == set(NEW)
    assert (root / "plots/fewshot.csv").read_text().splitlines()[0].startswith("shots,new_accuracy,new_accuracy_ci95")
    assert "fewshot_seconds" in json.loads((root / "metrics/time/fewshot.json").read_text())
    assert "seconds" not in json.dumps(saved)
    again = fewshot.run(root / "params.yaml", **paths(root))
    assert again == result == saved

    # the report's section, from these measured numbers: every figure written as "x ± y %" like the others
    section = "\n".join(fewshot_section(root))
    def pm(e: dict) -> str:
        return f"{100 * e['mean']:.1f} ± {100 * e['ci95']:.1f} %"
    for k, row in saved["rows"].items():
        loss = f"{100 * row['old_loss']['mean']:.2f} ± {100 * row['old_loss']['ci95']:.2f} points"
        assert (f"- With **{k}** shot{'s' if k != '1' else ''} per word, new words reach **{pm(row['new_accuracy'])}** "
                f"and old classes lose **{loss}** ({pm(row['old_accuracy_before'])} → {pm(row['old_accuracy'])}).") in section
        assert (f"| {k} | {pm(row['new_accuracy'])} | {pm(row['old_accuracy'])} | {loss} | {pm(row['new_as_old'])} | "
                f"{pm(row['old_as_new'])} | {pm(row['old_predictions_kept'])} |") in section
    assert f"gets `add_classes({len(NEW)})` and learns {', '.join(repr(str(w)) for w in NEW)}" in section
    renamed = {**saved, "rows": {k: {c: v for c, v in r.items() if c != "old_loss"} for k, r in saved["rows"].items()}}
    (root / "metrics/fewshot.json").write_text(json.dumps({"fewshot": renamed}))
    with pytest.raises(EdgetuneError, match=r"^metrics/fewshot.json: no 'old_loss'; it is older than this code, "
                                            r"rerun dvc repro fewshot$"):
        fewshot_section(root)


def error_line(capsys, root: Path, **override) -> list[str]:
    status = cli.run_stage("fewshot", lambda: fewshot.run(root / "params.yaml", **{**paths(root), **override}))
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 2
    return err


def test_bad_inputs_fail_with_one_clear_line(tiny, tmp_path, capsys):
    root = tmp_path / "p"
    shutil.copytree(tiny, root)
    write_params(root, shots=[1, 13])
    assert error_line(capsys, root) == ["edgetune fewshot: error: fewshot.shots: 13 shots, but new class 'backward' "
                                        "has only 12 training samples; lower the value or give the class more samples"]
    write_params(root, words=["backward", "six"])
    [line] = error_line(capsys, root)
    assert "fewshot.words: 'six' is not among the new classes ['backward', 'follow', 'forward']" in line
    assert "an old class" in line
    write_params(root)
    x = load_dataset(root / "data/kws.npz").x_train
    make_tiny_extractor(root / "models/other.fbz", x, width=WIDTH + 8)
    [line] = error_line(capsys, root, extractor_path=root / "models/other.fbz")
    assert "other.fbz: outputs (1, 1, 32) but the spikes are 24 wide; the spikes are stale" in line
    assert not (root / "metrics/fewshot.json").exists()


def test_without_new_words_the_stage_says_why_and_the_pipeline_goes_on(tiny, tmp_path):
    root = tmp_path / "p"
    shutil.copytree(tiny, root)
    write_params(root)
    reason = new_words.make_new_words(DataParams(source="brainchip"), load_dataset(root / "data/kws.npz"))
    assert "BrainChip's pickle leaves out 'backward', 'follow' and 'forward'" in reason
    new_words.save_new_words(root / "data/new_words.npz", reason)
    assert fewshot.run(root / "params.yaml", **paths(root)) == {"available": False, "reason": reason}
    assert json.loads((root / "metrics/fewshot.json").read_text())["fewshot"]["reason"] == reason


def test_fewshot_params_are_checked():
    assert parse_params({"fewshot": {"shots": [10, 1]}}).fewshot.shots == [1, 10]
    with pytest.raises(EdgetuneError, match=r"^params.yaml: fewshot.seeds = \[0\]: seeds must list at least 2 seeds"):
        parse_params({"fewshot": {"seeds": [0]}})


def test_synthetic_new_words_share_the_voice_split_and_stay_out_of_the_training_set():
    params = DataParams(words=["yes", "no"], clips_per_word=10, engines=["espeak"], jobs=1)
    dataset = synthetic.generate(params)
    new = new_words.make_new_words(params, dataset)
    new_words.check_apart(new, dataset)  # raises if a new-word sample is in the training set
    assert new.classes.tolist() == ["backward", "follow", "forward"]
    assert not set(new.classes.tolist()) & set(dataset.classes.tolist())
    train_rows = {r.tobytes() for r in dataset.x_train}
    assert not any(r.tobytes() in train_rows for r in np.concatenate([new.x_train, new.x_val]))
    pools = synthetic.plan(params).speakers  # the dataset's voice split: the new words speak in the same one
    assert set(new.speaker_train.tolist()) <= set(pools["train"]) and set(new.speaker_val.tolist()) <= set(pools["val"])
    assert not set(new.speaker_train.tolist()) & set(dataset.speaker_val.tolist())
    assert not set(new.speaker_train.tolist()) & set(new.speaker_val.tolist())
    # the dataset's clips do not move: its plan is the same with or without the new words planned
    assert synthetic.plan(params).clips == synthetic.plan(params).clips
    assert {c.seed[1] for c in synthetic.plan(params, classes=new.classes.tolist()).clips}.isdisjoint(
        {c.seed[1] for c in synthetic.plan(params).clips})


def test_adding_a_shots_value_reruns_only_fewshot(dvc_project):
    tiny_inputs(dvc_project.root)
    dvc_project.only_stages("fewshot")
    dvc_project.set_params(fewshot={"shots": [1, 4], "seeds": [0, 1], "heard_words": ["six"], "jobs": 1})
    dvc_project.commit("tiny inputs")
    dvc_project.run("dvc", "repro")
    assert list(json.loads((dvc_project.root / "metrics/fewshot.json").read_text())["fewshot"]["rows"]) == ["1", "4"]
    dvc_project.commit("ran")
    assert "fewshot" not in dvc_project.run("dvc", "status").stdout
    dvc_project.set_params(fewshot={"shots": [1, 2, 4]})
    out = dvc_project.run("dvc", "repro").stdout
    assert "Running stage 'fewshot'" in out
    assert list(json.loads((dvc_project.root / "metrics/fewshot.json").read_text())["fewshot"]["rows"]) == ["1", "2", "4"]
