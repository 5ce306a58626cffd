"""Inputs that used to end badly: a damaged .npz (a traceback), file names that are not Speech
Commands' (one "voice" per sample), spikes without class information (a silent, meaningless table)."""

from __future__ import annotations

import json
import logging
import pickle

import numpy as np
import pytest

from brainchip_files import brainchip_list
from edgetune.edge import chance, table
from edgetune.report import report_data, sections
from edgetune.dataset import save_dataset
from edgetune.errors import EdgetuneError
from edgetune.params import parse_params
from edgetune.params.extractor import BRAINCHIP_MODEL_SHA256, BRAINCHIP_MODEL_URL
from fake_kws import make_fake_kws
from test_download_faults import run, workdir  # noqa: F401  (the fixture: a cwd + cache of its own)
from test_table import fake_seeds, write_params, write_results


# --- a truncated or corrupt data.path ------------------------------------------------------------

def test_truncated_or_corrupt_npz_is_one_line_naming_the_file(workdir, capsys):  # noqa: F811
    save_dataset(workdir / "good.npz", make_fake_kws(num_classes=3, train_per_class=5, val_per_class=2))
    good = (workdir / "good.npz").read_bytes()
    damaged = {"cut_half.npz": good[: len(good) // 2], "cut_end.npz": good[:-30], "cut_start.npz": good[:200]}
    flipped = bytearray(good)
    flipped[len(good) // 3: len(good) // 3 + 8] = b"\xff" * 8  # inside a compressed member: its CRC fails
    damaged["flipped.npz"] = bytes(flipped)
    for name, content in damaged.items():
        (workdir / name).write_bytes(content)
        status, err = run("fetch", workdir, capsys, data={"source": "file", "path": name})
        assert status == 2, (name, err)
        assert err.count("\n") == 1 and "Traceback" not in err, (name, err)
        assert err.startswith(f"edgetune fetch: error: {name}: "), (name, err)
        kind = "zlib.error" if name == "flipped.npz" else "zipfile.BadZipFile"  # bytes that do not inflate
        assert f"truncated or corrupt .npz ({kind}: " in err, (name, err)
    assert not (workdir / "data").exists()


# --- file names that are not Speech Commands' ----------------------------------------------------

def test_a_dataset_whose_splits_share_voices_is_counted_and_warned_about(workdir, capsys, caplog):  # noqa: F811
    items = brainchip_list(num_classes=3, train_per_class=6, val_per_class=3)
    items[5] = [name.replace("/va", "/tr") for name in items[5]]  # val spoken by train's speakers tr00..tr04
    (workdir / "mine.pkl").write_bytes(pickle.dumps(items))
    with caplog.at_level(logging.WARNING, logger="edgetune.data.fetch"):
        status, err = run("fetch", workdir, capsys, data={"source": "file", "path": "mine.pkl"})
    assert status == 0, err
    metrics = json.loads((workdir / "metrics/data.json").read_text())
    assert metrics["voices"] == {"train": 5, "val": 5} and metrics["voices_shared"] == 5
    assert any("speaker_train and speaker_val share 5 voices (tr00ab, tr01ab, tr02ab, tr03ab, tr04ab)" in r.getMessage()
               for r in caplog.records)


def test_pickle_without_speech_commands_names_has_voices_not_recorded(workdir, capsys, caplog):  # noqa: F811
    items = brainchip_list(num_classes=3, train_per_class=6, val_per_class=3)
    items[4] = [f"clip_{i:04d}.wav" for i in range(len(items[0]))]  # a dataset of its own naming
    (workdir / "mine.pkl").write_bytes(pickle.dumps(items))
    with caplog.at_level(logging.WARNING, logger="edgetune.data.fetch"):
        status, err = run("fetch", workdir, capsys, data={"source": "file", "path": "mine.pkl"})
    assert status == 0, err
    metrics = json.loads((workdir / "metrics/data.json").read_text())
    assert metrics["voices"] == {"train": None, "val": 5}  # val keeps its <speaker>_nohash_<n> names
    assert metrics["voices_shared"] is None  # unknown without train's speakers
    with np.load(workdir / "data/kws.npz") as f:
        assert "speaker_train" not in f.files and "speaker_val" in f.files
    assert any("files_train: 18 of 18 file names do not follow Speech Commands' <speaker>_nohash_<n>.wav "
               "(e.g. 'clip_0000.wav'): voices not recorded" in r.getMessage() for r in caplog.records)
    md = "\n".join(report_data.data_section(metrics))
    assert "not recorded" in md


# --- an edge layer near chance -------------------------------------------------------------------

@pytest.mark.parametrize("accuracy, classes, near", [
    (0.05, 33, True), (0.12, 33, True), (0.13, 33, False), (0.54, 33, False),  # 33 classes: below 12.7 %
    (0.30, 4, True), (0.33, 4, False),  # 4 classes: below 32.5 %
    (0.54, 2, True), (0.56, 2, False),  # 2 classes: below 55 %
])
def test_near_chance_is_a_tenth_of_the_way_from_chance_to_perfect(accuracy, classes, near):
    assert chance.near_chance(accuracy, classes) is near
    assert (chance.warning(accuracy, classes) is not None) is near


def test_table_log_and_report_say_when_the_edge_layer_is_near_chance(tmp_path, caplog):
    out = [tmp_path / name for name in ("table.json", "table.md", "table.csv", "table_time.csv", "per_class.csv",
                                        "table.png")]
    write_params(tmp_path / "params.yaml", neurons_per_class=[10, 50], reference=50, seeds=[0, 1, 2])
    for accuracy, near in ((0.36, True), (0.9, False)):  # fake_seeds: 3 classes, chance 33.3 %
        write_results(tmp_path / "results", fake_seeds({n: [accuracy] * 3 for n in (10, 50)}, {10: 1, 50: 1},
                                                       reference=50))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="edgetune.edge.table"):
            t = table.run(tmp_path / "params.yaml", tmp_path / "results", *out)
        said = [r.getMessage() for r in caplog.records if "near chance" in r.getMessage()]
        section = "\n".join(sections.table_section(t, json.loads((tmp_path / "time" / "table.json").read_text())))
        if near:
            assert said == ["the edge layer's best validation accuracy, 36.0 %, is near chance (33.3 % for 3 "
                            "classes): the extractor's spikes carry little or no class information, so the "
                            "learning parameters found here mean little — check the extractor (its own "
                            "accuracy, its spikes per class) before tuning the edge layer"]
            assert f"**Warning:** {said[0]}." in section
        else:
            assert said == [] and "near chance" not in section


# --- the extractor's URL and hash are params -----------------------------------------------------

def test_extractor_url_and_sha256_default_to_brainchips_and_are_checked():
    params = parse_params({})
    assert (params.extractor.url, params.extractor.sha256) == (BRAINCHIP_MODEL_URL, BRAINCHIP_MODEL_SHA256)
    assert BRAINCHIP_MODEL_URL.endswith("/AkidaV1/ds_cnn/ds_cnn_kws_iq8_wq4_aq4_laq1.h5")
    mirror = parse_params({"extractor": {"url": "http://127.0.0.1:8000/m.h5", "sha256": "AB" * 32}}).extractor
    assert mirror.url == "http://127.0.0.1:8000/m.h5" and mirror.sha256 == "ab" * 32
    with pytest.raises(EdgetuneError, match=r"^params.yaml: extractor.sha256 = 'abc': must be empty or a sha256"):
        parse_params({"extractor": {"sha256": "abc"}})
    with pytest.raises(EdgetuneError, match=r"^params.yaml: extractor.url = 'models/m.h5': must be a URL starting"):
        parse_params({"extractor": {"url": "models/m.h5"}})
