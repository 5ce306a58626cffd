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
    assert ds.x_train.dtype == np.uint8 and 0 < ds.x_train.mean() < 255
    # voice-disjoint: no person speaks in both splits ("" = silence, no voice)
    assert set(ds.speaker_train.tolist()) - {""} and set(ds.speaker_val.tolist()) - {""}
    assert not (set(ds.speaker_train.tolist()) & set(ds.speaker_val.tolist())) - {""}
    assert all(ds.meta["clips_per_engine"]["train"][e] > 0 for e in TINY["engines"])
    assert len(ds.meta["uint8"]["low"]) == 10 and ds.meta["generator"]["clips_per_word"] == 10
    metrics = json.loads((dvc_project.root / "metrics/data.json").read_text())
    assert metrics["source"] == "synthetic" and metrics["num_classes"] == 3
    assert metrics["counts"] == {"train": {"_silence_": 8, "no": 8, "yes": 8}, "val": {"_silence_": 2, "no": 2, "yes": 2}}
    assert metrics["voices"]["train"] > 0 and metrics["voices"]["val"] > 0 and "seconds" not in metrics
    assert metrics["voices_shared"] == 0
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
