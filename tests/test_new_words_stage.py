"""`dvc repro fetch-new-words` for real, in a throwaway copy of the pipeline, on a tiny synthetic dataset."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

from edgetune.data import new_words, synthetic
from edgetune.dataset import load_dataset, save_dataset
from edgetune.errors import EdgetuneError
from edgetune.params import DataParams

# one engine, 10 clips per word: a second of synthesis for each stage
TINY = {"words": ["yes", "no"], "clips_per_word": 10, "engines": ["espeak"], "jobs": 1}
NEW = ["backward", "follow", "forward"]  # edgetune.params.NEW_WORDS, none of them in TINY's words


def test_dvc_repro_fetch_new_words_keeps_the_new_words_apart_and_leaves_the_dataset_alone(dvc_project):
    dvc_project.set_params(data=TINY)
    dvc_project.commit("tiny data")
    root = dvc_project.root
    dvc_project.run("dvc", "repro", "fetch")
    kws = (root / "data/kws.npz").read_bytes()
    proc = dvc_project.run("dvc", "repro", "fetch-new-words")
    assert "Running stage 'fetch-new-words'" in proc.stdout and "Running stage 'fetch'" not in proc.stdout
    assert (root / "data/kws.npz").read_bytes() == kws  # the dataset does not change with the new words

    dataset, new = load_dataset(root / "data/kws.npz"), load_dataset(root / "data/new_words.npz")
    assert new.classes.tolist() == NEW
    # each new word is planned like a dataset word: 10 clips, 2 of them (data.val_voice_fraction 0.2)
    # by the validation voices; the dataset's own words split the same way
    assert np.bincount(new.y_train).tolist() == [8, 8, 8] and np.bincount(new.y_val).tolist() == [2, 2, 2]
    assert np.bincount(dataset.y_train).tolist() == [8, 8, 8] and np.bincount(dataset.y_val).tolist() == [2, 2, 2]
    assert new.x_train.shape == (24, 49, 10, 1) and new.x_val.shape == (6, 49, 10, 1) and new.x_train.dtype == np.uint8
    # no new-word sample is a sample of the dataset, in either split
    old = {row.tobytes() for row in np.concatenate([dataset.x_train, dataset.x_val])}
    assert not [row for row in np.concatenate([new.x_train, new.x_val]) if row.tobytes() in old]
    # the dataset's voice split: a validation voice of one never speaks in the training split of the other
    assert not set(new.speaker_train.tolist()) & set(dataset.speaker_val.tolist())
    assert not set(new.speaker_val.tolist()) & set(dataset.speaker_train.tolist())
    assert new.meta["uint8"] == "the dataset's (data/kws.npz meta.uint8)"

    assert json.loads((root / "metrics/new_words.json").read_text()) == {"new_words": {
        "available": True, "source": "synthetic", "words": NEW,
        "counts": {"train": {w: 8 for w in NEW}, "val": {w: 2 for w in NEW}},
        "voices": {"train": len(set(new.speaker_train.tolist())), "val": len(set(new.speaker_val.tolist()))}}}
    assert json.loads((root / "metrics/new_words.json").read_text())["new_words"]["voices"] == {"train": 19, "val": 5}
    # wall-clock time, apart: the one value that differs run to run
    assert list(json.loads((root / "metrics/time/new_words.json").read_text())) == ["new_words_seconds"]

    first = (root / "data/new_words.npz").read_bytes()
    dvc_project.run("dvc", "repro", "-f", "-s", "fetch-new-words")
    assert (root / "data/new_words.npz").read_bytes() == first


def test_new_words_among_the_dataset_words_are_refused(tmp_path):
    words = ["yes", "backward", "follow"]  # only 'forward' left to be new: one word, not enough
    save_dataset(tmp_path / "kws.npz", synthetic.generate(DataParams(words=words, clips_per_word=2, engines=["espeak"])))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"data": {"words": words, "clips_per_word": 2,
                                                                   "engines": ["espeak"]}}))
    with pytest.raises(EdgetuneError, match=re.escape(
            "data.words holds ['backward', 'follow']: the new words must be at least two of "
            "['backward', 'follow', 'forward'] left out of data.words") + "$"):
        new_words.run(tmp_path / "params.yaml", tmp_path / "kws.npz", tmp_path / "new_words.npz",
                      tmp_path / "metrics" / "new_words.json")
    assert not (tmp_path / "new_words.npz").exists() and not (tmp_path / "metrics").exists()
