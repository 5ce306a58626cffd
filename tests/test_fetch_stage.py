"""`dvc repro fetch` for real, in a throwaway copy of the pipeline, on a tiny synthetic dataset."""

import json

import numpy as np

from edgetune.dataset import load_dataset

# every engine, piper (training only: one voice) included
TINY = {"words": ["yes", "no"], "clips_per_word": 10, "engines": ["espeak", "flite", "festival", "accented", "piper"], "jobs": 2}


def test_dvc_repro_fetch_makes_a_voice_disjoint_dataset_byte_identical_on_rerun(dvc_project):
    dvc_project.set_params(data=TINY)
    dvc_project.commit("tiny data")
    dvc_project.run("dvc", "repro", "fetch")
    npz = dvc_project.root / "data/kws.npz"
    ds = load_dataset(npz)
    assert ds.classes.tolist() == ["_silence_", "no", "yes"]
    assert ds.x_train.shape == (24, 49, 10, 1) and ds.x_val.shape == (6, 49, 10, 1)
    assert ds.x_train.dtype == np.uint8
    # the uint8 range is each coefficient's 0.5th..99.5th percentile of the training MFCCs, clipped:
    # every coefficient reaches both ends on the training split
    assert ds.x_train.min(axis=(0, 1, 3)).tolist() == [0] * 10 and ds.x_train.max(axis=(0, 1, 3)).tolist() == [255] * 10
    # the clips themselves: seeded engines and a numpy MFCC, the same bytes on any x86-64 machine
    # (docs/reproducibility.md), so their sums too (training mean 1609349 / 11760 = 136.85)
    assert (int(ds.x_train.sum(dtype=np.int64)), int(ds.x_val.sum(dtype=np.int64))) == (1609349, 402245)
    # voice-disjoint: no person speaks in both splits ("" = silence, no voice)
    assert set(ds.speaker_train.tolist()) == {"", "cs-machac", "espeak-Lee", "espeak-belinda", "espeak-m5",
                                              "espeak-m7", "fi-mv", "joe", "kal", "rms", "slt"}
    assert set(ds.speaker_val.tolist()) == {"", "awb", "espeak-kaukovalta", "espeak-michel"}
    assert not (set(ds.speaker_train.tolist()) & set(ds.speaker_val.tolist())) - {""}
    # 2 words × 10 clips, spread over the engines, plus the silence clips ("noise"); the validation
    # voices drawn here are eSpeak's and flite's only
    assert ds.meta["clips_per_engine"] == {
        "train": {"accented": 2, "espeak": 4, "festival": 4, "flite": 4, "noise": 8, "piper": 2},
        "val": {"accented": 0, "espeak": 2, "festival": 0, "flite": 2, "noise": 2, "piper": 0}}
    assert len(ds.meta["uint8"]["low"]) == 10 and ds.meta["generator"]["clips_per_word"] == 10
    metrics = json.loads((dvc_project.root / "metrics/data.json").read_text())
    assert metrics["source"] == "synthetic" and metrics["num_classes"] == 3
    assert metrics["counts"] == {"train": {"_silence_": 8, "no": 8, "yes": 8}, "val": {"_silence_": 2, "no": 2, "yes": 2}}
    assert metrics["voices"] == {"train": 10, "val": 3} and "seconds" not in metrics  # the speakers above but ""
    assert metrics["voices_shared"] == 0
    # wall-clock time: the one value that differs run to run
    assert json.loads((dvc_project.root / "metrics/time/fetch.json").read_text())["fetch_seconds"] > 0
    first = npz.read_bytes()

    again = dvc_project.run("dvc", "repro", "fetch")
    assert "didn't change" in again.stdout  # cached: nothing reruns
    dvc_project.run("dvc", "repro", "--force", "fetch")
    assert npz.read_bytes() == first
    dvc_project.set_params(data={"jobs": 1})  # one worker instead of two: still the same bytes
    dvc_project.run("dvc", "repro", "fetch")
    assert npz.read_bytes() == first


def test_bad_params_stop_the_stage_with_one_clear_line(dvc_project):
    dvc_project.set_params(data={"clips_per_word": 1})
    proc = dvc_project.run("dvc", "repro", "fetch", check=False)
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "edgetune fetch: error" in line]
    assert lines == ["edgetune fetch: error: params.yaml: data.clips_per_word = 1: "
                     "Input should be greater than or equal to 2"]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (dvc_project.root / "data/kws.npz").exists()
