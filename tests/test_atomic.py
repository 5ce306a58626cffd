import zipfile

import numpy as np
import pytest

from edgetune.atomic import save_npz, write_json
from edgetune.edge.spikefile import SpikeSet, load_spikes, save_spikes
from edgetune.errors import EdgetuneError


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        write_json(target, {"a": object()})
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


@pytest.mark.parametrize("compressed", [True, False])
def test_npz_bytes_are_identical_for_identical_arrays(tmp_path, compressed):
    arrays = {"x": np.arange(100, dtype=np.uint8), "names": np.array(["a", "b"])}
    save_npz(tmp_path / "a.npz", compressed=compressed, **arrays)
    save_npz(tmp_path / "b.npz", compressed=compressed, **arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    # not two writes within one 2-second zip tick: every entry carries the fixed date, whenever written
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:
        entries = archive.infolist()
    assert sorted(e.filename for e in entries) == ["names.npy", "x.npy"]
    assert [e.date_time for e in entries] == [(1980, 1, 1, 0, 0, 0)] * len(entries)


def test_spikes_round_trip_bit_packed(tmp_path):
    rng = np.random.default_rng(0)
    spikes = SpikeSet(
        x_train=(rng.random((50, 1, 1, 13)) < 0.3).astype(np.uint8),
        y_train=rng.integers(0, 3, 50).astype(np.int32),
        x_val=(rng.random((20, 13)) < 0.3).astype(np.uint8),
        y_val=rng.integers(0, 3, 20).astype(np.int32),
        classes=np.array(["a", "b", "c"]),
    )
    save_spikes(tmp_path / "s.npz", spikes)
    back = load_spikes(tmp_path / "s.npz")
    assert back.width == 13 and back.num_classes == 3
    np.testing.assert_array_equal(back.x_train, spikes.x_train.reshape(50, 13))
    np.testing.assert_array_equal(back.x_val, spikes.x_val)
    np.testing.assert_array_equal(back.y_train, spikes.y_train)


def test_spikes_refuse_non_binary_values_and_missing_file(tmp_path):
    bad = SpikeSet(np.full((2, 4), 2), np.zeros(2), np.zeros((2, 4)), np.zeros(2), np.array(["a"]))
    with pytest.raises(EdgetuneError, match="0/1"):
        save_spikes(tmp_path / "s.npz", bad)
    with pytest.raises(EdgetuneError, match="dvc repro spikes"):
        load_spikes(tmp_path / "missing.npz")


def test_dataset_round_trip_and_clear_errors(tmp_path):
    from edgetune.dataset import MFCC_SHAPE, KwsDataset, load_dataset, save_dataset, validate

    rng = np.random.default_rng(0)
    ds = KwsDataset(
        rng.integers(0, 256, (10, 49, 10, 1)).astype(np.uint8), np.array([0, 1] * 5),
        rng.integers(0, 256, (4, 49, 10)).astype(np.uint8), np.array([0, 1, 0, 1]),
        np.array(["a", "b"]), meta={"source": "test"},
    )
    save_dataset(tmp_path / "d.npz", ds)
    back = load_dataset(tmp_path / "d.npz")
    assert back.meta == {"source": "test"} and back.x_val.shape == (4, 49, 10, 1)
    assert back.y_train.dtype == np.int32
    with pytest.raises(EdgetuneError, match=r"f.npz: y_train: class\(es\) \['b'\] have no sample"):
        validate(KwsDataset(ds.x_train, np.zeros(10, int), ds.x_val, ds.y_val, ds.classes), "f.npz")
    wide = KwsDataset(np.zeros((10, 49, 11, 1), np.uint8), ds.y_train, ds.x_val, ds.y_val, ds.classes)
    with pytest.raises(EdgetuneError, match=r"^f.npz: x_train: shape \(10, 49, 11, 1\), expected \(N, 49, 10, 1\) MFCC"):
        validate(wide, "f.npz", MFCC_SHAPE)  # a KWS source
    with pytest.raises(EdgetuneError, match=r"^f.npz: x_val: samples of shape \(49, 10, 1\), where x_train's are "
                                            r"\(49, 11, 1\); both splits need samples of one shape$"):
        validate(wide, "f.npz")  # a user's file: any shape, the same in both splits
    with pytest.raises(EdgetuneError, match="labels span 0..5"):
        validate(KwsDataset(ds.x_train, np.array([0, 1, 5] + [0] * 7), ds.x_val, ds.y_val, ds.classes), "f.npz")


def test_outputs_are_ordinary_readable_files_not_private_temp_files(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o644
