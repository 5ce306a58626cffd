"""The few-shot arms beside unseen voices: one person at a time, the heard-words control, layer sizes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from edgetune.data import new_words
from edgetune.edge import fewshot, fewshot_arms as arms, layer as edge
from edgetune.edge.spikefile import load_spikes
from edgetune.errors import EdgetuneError
from edgetune.extractor.check import load_extractor
from edgetune.report.report_fewshot import fewshot_section
from test_fewshot import NPC, NUM_WEIGHTS, OLD, WIDTH, error_line, paths, tiny_inputs

ARMS = {"shots": [1, 4], "seeds": [0, 1], "compare_neurons_per_class": [2], "personal_utterances": 2,
        "personal_augment": 5, "personal_test_clips": 3, "heard_words": ["six"], "jobs": 2}


@pytest.fixture(scope="module")
def voiced(tmp_path_factory) -> Path:
    """Twenty validation clips per new word, alternating between two persons: ten each."""
    root = tmp_path_factory.mktemp("arms")
    tiny_inputs(root, new_val=20)
    (root / "params.yaml").write_text(yaml.safe_dump({"fewshot": ARMS}))
    fewshot.run(root / "params.yaml", **paths(root))
    return root


def saved(root: Path) -> dict:
    return json.loads((root / "metrics/fewshot.json").read_text())["fewshot"]


def test_augment_shifts_each_copy_in_time_then_adds_noise_from_one_seeded_stream():
    x = np.random.default_rng(1).integers(0, 256, (2, 49, 10, 1)).astype(np.uint8)
    out = arms.augment(x, 3, (7, 5, 0))
    assert out.shape == (6, 49, 10, 1) and out.dtype == np.uint8
    assert np.array_equal(out, arms.augment(x, 3, (7, 5, 0))) and not np.array_equal(out, arms.augment(x, 3, (8, 5, 0)))
    rng = np.random.default_rng((7, 5, 0))
    shifts = rng.integers(-arms.SHIFT, arms.SHIFT + 1, size=6)
    noise = rng.normal(0.0, arms.NOISE, out.shape)
    for i, s in enumerate(shifts):  # copy i of clip i // 3: frame t is the clip's frame t - s, edge frames repeated
        src = x[i // 3][np.clip(np.arange(49) - s, 0, 48)]
        assert np.array_equal(out[i], np.clip(src + noise[i], 0, 255).astype(np.uint8))


def test_a_person_enrols_its_own_clips_and_is_tested_on_all_its_others(voiced):
    new = new_words.load_new_words(voiced / "data/new_words.npz")
    speakers = np.asarray(new.speaker_val).astype(str)
    assert arms.personal_persons(speakers, new.y_val, 3, need=10) == ["val0", "val1"]
    assert arms.personal_persons(speakers, new.y_val, 3, need=11) == []  # ten clips of each word each
    assert arms.personal_persons(None, new.y_val, 3, need=1) == []  # a file without speakers
    enrolled, tested = arms.enrol(speakers, new.y_val, "val1", 1, 3, 4, seed=0)
    assert np.bincount(new.y_val[enrolled]).tolist() == [4, 4, 4] and set(speakers[enrolled]) == {"val1"}
    assert sorted([*enrolled, *tested]) == np.flatnonzero(speakers == "val1").tolist() and len(tested) == 18
    again, _ = arms.enrol(speakers, new.y_val, "val1", 1, 3, 4, seed=0)
    other, _ = arms.enrol(speakers, new.y_val, "val1", 1, 3, 4, seed=1)
    assert np.array_equal(enrolled, again) and set(enrolled) != set(other)


def test_each_persons_figure_is_its_own_runs_over_the_seeds_on_the_real_engine(voiced, tmp_path):
    f = saved(voiced)
    personal = f["personal"]
    assert personal["available"] and personal["persons"] == ["val0", "val1"]
    assert personal["test_clips"] == {"val0": 3 * (10 - 2), "val1": 3 * (10 - 2)}
    assert f["sizes"] == [NPC, 2] and set(personal["by_size"]) == {"3", "2"}
    new = new_words.load_new_words(voiced / "data/new_words.npz")
    old = load_spikes(voiced / "data/spikes.npz")
    model = load_extractor(voiced / "models/extractor.fbz", WIDTH)
    new_val_spikes = model.forward(new.x_val).reshape(len(new.x_val), -1)
    for npc in (NPC, 2):
        per_seed = []
        for seed in (0, 1):
            config = edge.EdgeConfig(len(OLD), npc, NUM_WEIGHTS, 0.1, seed)
            sets = arms.personal_sets(new.speaker_val, new.y_val, new.x_val, ["val0", "val1"], 2, 5, seed,
                                      lambda x: model.forward(x).reshape(len(x), -1))
            assert [len(y) for _, _, y, _ in sets] == [3 * 2 * 5] * 2  # 2 clips × 5 copies per word
            base = arms.train_base(config, old, tmp_path)
            per_seed.append(arms.personal_runs(base, config, old, sets, new_val_spikes, new.y_val))
        by_size = personal["by_size"][str(npc)]
        for i, person in enumerate(("val0", "val1")):
            mean = np.mean([runs[i]["new_accuracy"] for runs in per_seed])
            assert by_size["persons"][person]["mean"] == pytest.approx(mean, abs=1e-6)
            assert by_size["persons"][person]["n"] == 2
        assert by_size["new_accuracy"]["n"] == 4  # persons × seeds
    # above chance even among the three new words alone (1/3): the labels line up with the clips
    assert personal["by_size"][str(NPC)]["new_accuracy"]["mean"] > 1 / 3


def test_the_runs_are_the_same_on_two_workers_and_in_one_process(voiced, tmp_path):
    root = tmp_path / "p"
    shutil.copytree(voiced, root)
    (root / "params.yaml").write_text(yaml.safe_dump({"fewshot": {**ARMS, "jobs": 1}}))
    fewshot.run(root / "params.yaml", **paths(root))
    for name in ("metrics/fewshot.json", "plots/fewshot.csv"):  # every arm, layer size and seed
        # the same bytes but for where the layer size was read (metrics/table.json, under each root)
        assert (root / name).read_text().replace(str(root), "ROOT") == (voiced / name).read_text().replace(
            str(voiced), "ROOT")


def test_the_heard_words_leave_the_layer_and_come_back_and_the_gap_is_paired_by_seed(voiced):
    old = load_spikes(voiced / "data/spikes.npz")
    rest, heard = arms.heard_split(old, ["six"], Path("data/spikes.npz"))
    assert rest.classes.tolist() == ["_silence_", "yes", "no"] and heard.classes.tolist() == ["six"]
    assert np.bincount(rest.y_train).tolist() == [30, 30, 30] and heard.y_train.tolist() == [0] * 30
    assert np.array_equal(heard.x_val, old.x_val[old.y_val == 1]) and len(rest.y_val) == 30
    f = saved(voiced)
    h = f["heard"]
    assert h["words"] == ["six"] and set(h["by_size"]) == {"3", "2"} and list(h["by_size"]["3"]) == ["1", "4"]
    gap = h["gap_over_new"]
    assert gap["shots"] == 4 and gap["neurons_per_class"] == NPC and gap["n"] == 2
    expected = h["by_size"]["3"]["4"]["new_accuracy"]["mean"] - f["rows"]["4"]["new_accuracy"]["mean"]
    assert gap["mean"] == pytest.approx(expected, abs=2e-6)
    assert h["extractor_limits_new_words"] == (gap["mean"] - gap["ci95"] > 0)
    assert list(f["unseen_other_sizes"]) == ["2"] and list(f["unseen_other_sizes"]["2"]) == ["1", "4"]


def test_the_report_puts_the_three_arms_side_by_side(voiced):
    f, section = saved(voiced), "\n".join(fewshot_section(voiced))

    def pm(e: dict) -> str:
        return f"{100 * e['mean']:.1f} ± {100 * e['ci95']:.1f} %"

    first = f["personal"]["by_size"]["3"]
    assert ("For each held-out voice with at least 5 validation clips of every new word (2 of them): 2 of its clips "
            "per word, each augmented 5 times (time shift and noise on the MFCC), 10 samples per word, learned in one "
            f"`fit`; scored on its other clips over all 7 classes. At 3 neurons per class new words reach "
            f"**{pm(first['new_accuracy'])}**") in section
    assert f"by voice: val0 {pm(first['persons']['val0'])}, val1 {pm(first['persons']['val1'])}." in section
    gap = f["heard"]["gap_over_new"]
    assert (f"**Control: words the extractor heard.** 'six', left out of the layer and added the same way from 4 shots "
            f"each, reach **{pm(f['heard']['by_size']['3']['4']['new_accuracy'])}**, {100 * gap['mean']:.1f} ± "
            f"{100 * gap['ci95']:.1f} points above the new words (paired by seed)") in section
    for n, unseen in ((3, f["rows"]["4"]), (2, f["unseen_other_sizes"]["2"]["4"])):
        assert (f"| {n} | {pm(unseen['new_accuracy'])} | {100 * unseen['old_loss']['mean']:.2f} ± "
                f"{100 * unseen['old_loss']['ci95']:.2f} points | "
                f"{pm(f['personal']['by_size'][str(n)]['new_accuracy'])} | "
                f"{pm(f['heard']['by_size'][str(n)]['4']['new_accuracy'])} |") in section


def test_too_few_clips_per_person_is_said_and_an_unknown_heard_word_is_one_line(tmp_path, capsys):
    root = tmp_path / "p"
    tiny_inputs(root)  # six validation clips per new word: three each
    (root / "params.yaml").write_text(yaml.safe_dump({"fewshot": {**ARMS, "personal_test_clips": 2, "jobs": 1}}))
    fewshot.run(root / "params.yaml", **paths(root))
    assert saved(root)["personal"] == {"available": False, "utterances": 2, "augment": 5, "test_clips_min": 2,
                                       "reason": "no held-out speaker group has 4 validation samples of every new class"}
    assert ("One voice at a time (the tutorial's test): not measured, no held-out voice has 4 validation samples of "
            "every new word.") in fewshot_section(root)
    (root / "params.yaml").write_text(yaml.safe_dump({"fewshot": {**ARMS, "heard_words": ["seven"]}}))
    capsys.readouterr()
    assert error_line(capsys, root) == [
        f"edgetune fewshot: error: fewshot.heard_words: 'seven' is not a class of {root / 'data/spikes.npz'} "
        "(4 classes); name classes of the dataset, or set fewshot.heard_words: [] to skip the control"]
    (root / "params.yaml").write_text(yaml.safe_dump({"fewshot": {**ARMS, "heard_words": ["six", "six"]}}))
    with pytest.raises(EdgetuneError, match=r"heard_words must name each class once"):
        fewshot.run(root / "params.yaml", **paths(root))
