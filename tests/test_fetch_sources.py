"""The `brainchip` source against a real HTTP server on 127.0.0.1, and the `file` source.

The fetch stage runs in-process (``stages/fetch.py`` main) in a temporary working directory,
so each case checks the exit status, the one-line error and the files written. How a download
fails (HTTP errors, a wrong hash, a refused pickle leaving the cache) is in test_download_faults.py.
"""

import hashlib
import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml

from brainchip_files import RunsCode, brainchip_list
from conftest import run_stage_main
from edgetune.data import brainchip_data
from edgetune.dataset import KwsDataset, load_dataset, save_dataset
from edgetune.errors import EdgetuneError

SMALL = {"num_classes": 3, "train_per_class": 4, "val_per_class": 2}  # 12 training, 6 validation samples


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGETUNE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def write_params(workdir: Path, **data) -> Path:
    path = workdir / "params.yaml"
    path.write_text(yaml.safe_dump({"data": data}))
    return path


def run_stage(params: Path, capsys) -> tuple[int, str]:
    return run_stage_main("fetch", params, capsys)


def test_brainchip_download_with_good_hash_is_converted_to_the_contract(workdir, loopback, capsys):
    (loopback.root / "kws.pkl").write_bytes(pickle.dumps(brainchip_list(**SMALL), protocol=4))
    digest = hashlib.sha256((loopback.root / "kws.pkl").read_bytes()).hexdigest()
    url = loopback.url("kws.pkl")
    params = write_params(workdir, source="brainchip", url=url, sha256=digest)
    status, err = run_stage(params, capsys)
    assert status == 0, err
    ds = load_dataset(workdir / "data/kws.npz")
    original = brainchip_list(**SMALL)
    np.testing.assert_array_equal(ds.x_train, original[0])
    np.testing.assert_array_equal(ds.y_val, original[3])
    assert ds.classes.tolist() == ["_silence_", "word1", "word2"]
    assert ds.speaker_train.tolist()[:6] == ["tr00ab", "tr01ab", "tr02ab", "tr03ab", "tr04ab", "tr00ab"]
    assert ds.meta == {"source": "brainchip", "url": url, "sha256": digest}
    metrics = json.loads((workdir / "metrics/data.json").read_text())
    assert metrics["source"] == "brainchip" and metrics["voices"] == {"train": 5, "val": 5}
    assert metrics["voices_shared"] == 0
    assert [p.name for p in (workdir / "cache").rglob("*") if p.is_file()] == ["kws.pkl"]  # kept for the next run


def test_brainchip_without_hash_logs_the_computed_hash_and_warns(workdir, loopback, capsys, caplog):
    (loopback.root / "kws.pkl").write_bytes(pickle.dumps(brainchip_list(**SMALL), protocol=2))  # numpy via _codecs.encode
    digest = hashlib.sha256((loopback.root / "kws.pkl").read_bytes()).hexdigest()
    with caplog.at_level(logging.WARNING, logger="edgetune.data.fetch"):
        status, err = run_stage(write_params(workdir, source="brainchip", url=loopback.url("kws.pkl")), capsys)
    assert status == 0, err
    assert any(r.levelno == logging.WARNING and digest in r.getMessage() and "data.sha256" in r.getMessage()
               for r in caplog.records)


def test_safe_unpickler_reads_numpy_1_pickles_and_refuses_other_classes():
    payload = pickle.dumps(brainchip_list(**SMALL), protocol=2)
    assert b"numpy._core.multiarray" in payload
    old_numpy = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # as numpy 1.x wrote it
    loaded = brainchip_data.safe_load(old_numpy, "old.pkl")
    np.testing.assert_array_equal(loaded[0], brainchip_list(**SMALL)[0])
    from collections import Counter

    with pytest.raises(EdgetuneError, match=r"x.pkl: refused to unpickle: the file asks to call collections.Counter"):
        brainchip_data.safe_load(pickle.dumps({"a": Counter("ab")}), "x.pkl")
    with pytest.raises(EdgetuneError, match=r"x.pkl: not a readable pickle"):
        brainchip_data.safe_load(b"not a pickle", "x.pkl")


# ------------------------------------------------------------------------------------ file source
def contract_dataset(seed=0) -> KwsDataset:
    rng = np.random.default_rng(seed)
    return KwsDataset(rng.integers(0, 256, (9, 49, 10, 1), dtype=np.uint8), np.arange(9) % 3,
                      rng.integers(0, 256, (3, 49, 10, 1), dtype=np.uint8), np.arange(3),
                      np.array(["_silence_", "no", "yes"]), meta={"source": "mine"})


def test_file_source_reads_a_contract_npz_and_pins_its_hash(workdir, capsys):
    save_dataset(workdir / "mine.npz", contract_dataset())
    digest = hashlib.sha256((workdir / "mine.npz").read_bytes()).hexdigest()
    status, err = run_stage(write_params(workdir, source="file", path="mine.npz", sha256=digest), capsys)
    assert status == 0, err
    ds = load_dataset(workdir / "data/kws.npz")
    np.testing.assert_array_equal(ds.x_val, contract_dataset().x_val)
    assert ds.meta == {"source": "file", "path": "mine.npz", "sha256": digest, "original_meta": {"source": "mine"}}
    # the file changed in place: the pinned hash stops the stage instead of silently using it
    save_dataset(workdir / "mine.npz", contract_dataset(seed=1))
    status, err = run_stage(write_params(workdir, source="file", path="mine.npz", sha256=digest), capsys)
    assert status == 2 and "data.sha256: mine.npz has sha256" in err and "update data.sha256" in err


def test_file_source_reads_a_brainchip_pickle(workdir, capsys):
    (workdir / "bc.pkl").write_bytes(pickle.dumps(brainchip_list(**SMALL)))
    status, err = run_stage(write_params(workdir, source="file", path="bc.pkl"), capsys)
    assert status == 0, err
    assert load_dataset(workdir / "data/kws.npz").classes.tolist() == ["_silence_", "word1", "word2"]


def _bad_files(workdir: Path) -> dict[str, tuple[str, str]]:
    """name → (data.path, expected message fragment), each a different way a file can be wrong."""
    good = contract_dataset()
    save_dataset(workdir / "good.npz", good)
    with np.load(workdir / "good.npz") as f:
        arrays = {k: f[k] for k in f.files}
    np.savez(workdir / "no_yval.npz", **{k: v for k, v in arrays.items() if k != "y_val"})
    np.savez(workdir / "val_lacks_class.npz", **{**arrays, "y_val": np.array([0, 1, 1])})
    np.savez(workdir / "float_x.npz", **{**arrays, "x_train": arrays["x_train"].astype(np.float32) + 0.5})
    (workdir / "not_zip.npz").write_text("hello")
    (workdir / "data.txt").write_text("hello")
    (workdir / "dict.pkl").write_bytes(pickle.dumps({"x_train": 1}))
    bad_labels = brainchip_list(**SMALL)
    bad_labels[6] = {"_silence_": 0, "word1": 1, "word2": 5}
    (workdir / "labels.pkl").write_bytes(pickle.dumps(bad_labels))
    float_x = brainchip_list(**SMALL)
    float_x[0] = float_x[0].astype(np.float32) / 255
    (workdir / "float.pkl").write_bytes(pickle.dumps(float_x))
    wrong_shape = brainchip_list(**SMALL)
    wrong_shape[2] = np.zeros((6, 40, 10, 1), np.uint8)
    (workdir / "shape.pkl").write_bytes(pickle.dumps(wrong_shape))
    (workdir / "evil.pkl").write_bytes(pickle.dumps(RunsCode(workdir / "pwned")))
    return {
        "missing": ("nope.npz", "data.path = 'nope.npz': file not found"),
        "extension": ("data.txt", "data.path = 'data.txt': unsupported file type .txt"),
        "npz field": ("no_yval.npz", "no_yval.npz: missing field(s) ['y_val']"),
        "class absent": ("val_lacks_class.npz", "val_lacks_class.npz: y_val: class(es) ['yes'] have no sample"),
        "float x": ("float_x.npz", "float_x.npz: x_train: dtype float32, expected uint8"),
        "not npz": ("not_zip.npz", "not_zip.npz: not a readable .npz"),
        "not list": ("dict.pkl", "dict.pkl: not in BrainChip's format: expected a list [x_train, y_train"),
        "labels": ("labels.pkl", "labels.pkl: word_to_index: labels [0, 1, 5] are not 0..2"),
        "float pickle": ("float.pkl", "float.pkl: x_train: float values that are not whole numbers in 0..255"),
        "shape": ("shape.pkl", "shape.pkl: x_val: shape (6, 40, 10, 1), expected (N, 49, 10, 1)"),
        "code": ("evil.pkl", "evil.pkl: refused to unpickle: the file asks to call posix.system"),
    }


def test_bad_files_each_give_their_clear_error(workdir, capsys):
    for name, (path, expected) in _bad_files(workdir).items():
        status, err = run_stage(write_params(workdir, source="file", path=path), capsys)
        assert status == 2, name
        assert err.startswith("edgetune fetch: error: ") and expected in err, (name, err)
        assert err.count("\n") == 1 and "Traceback" not in err, name
    assert not (workdir / "data/kws.npz").exists() and not (workdir / "pwned").exists()


@pytest.mark.parametrize("data, expected", [
    ({"sha256": "abc"}, "data.sha256 = 'abc': must be empty or a sha256 hex digest of 64 characters"),
    ({"engines": ["espeak", "mbrola"]}, "data.engines.1 = 'mbrola': Input should be 'espeak', 'flite', 'festival', 'accented' or 'piper'"),
    ({"val_voice_fraction": 1.0}, "data.val_voice_fraction = 1.0: Input should be less than 1"),
    ({"words": ["backward", "six"], "clips_per_word": 0}, "data.clips_per_word = 0: Input should be greater than or equal to 2"),
])
def test_bad_data_params_give_one_line_naming_the_key(workdir, capsys, data, expected):
    status, err = run_stage(write_params(workdir, **data), capsys)
    assert status == 2 and expected in err and err.count("\n") == 1
