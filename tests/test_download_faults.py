"""The online sources against a real HTTP server on 127.0.0.1 that fails in the ways networks do.

Each fault ends in one line and exit status 2 (or in a retry that succeeds), and leaves nothing in
the download cache that a later run would trust: the stages run in-process (their ``main``) in a
temporary working directory with ``EDGETUNE_CACHE_DIR`` there, one retry and a short timeout.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import yaml

from brainchip_files import RunsCode, brainchip_list, brainchip_pickle, pretrained_v1_h5
from conftest import run_stage_main
from edgetune import download
from edgetune.dataset import save_dataset
from edgetune.errors import EdgetuneError
from fake_kws import make_fake_kws

TIMEOUT = 0.5  # seconds; the slow fault waits 3 s


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGETUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EDGETUNE_DOWNLOAD_RETRIES", "1")
    monkeypatch.setenv("EDGETUNE_DOWNLOAD_TIMEOUT", str(TIMEOUT))
    return tmp_path


def cached_files(workdir: Path) -> list[str]:
    """Every file in the download cache, temporary ones included."""
    return sorted(p.name for p in (workdir / "cache").rglob("*") if p.is_file())


def run(stage: str, workdir: Path, capsys, **sections) -> tuple[int, str]:
    """Run a stage with these params; its status and stderr without the download progress bar."""
    (workdir / "params.yaml").write_text(yaml.safe_dump(sections))
    return run_stage_main(stage, Path("params.yaml"), capsys)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_file(workdir: Path, url: str) -> Path:
    """Where the cache keeps ``url``: a folder named by 16 hex digits of the URL's sha256, then the file's name."""
    return workdir / "cache" / hashlib.sha256(url.encode()).hexdigest()[:16] / Path(urlsplit(url).path).name


def assert_one_error_line(status: int, err: str, stage: str, start: str) -> None:
    assert status == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"edgetune {stage}: error: {start}"), err


@pytest.mark.parametrize("fault, pinned, expected", [
    ("404", True, "HTTP 404; use data.source: synthetic offline"),
    ("drop", True, "the connection dropped mid-file; use data.source: synthetic"),
    ("drop", False, "the connection dropped mid-file"),  # no hash to catch it: the Content-Length does
    ("slow", True, f"no data for {TIMEOUT:g} s, the timeout (EDGETUNE_DOWNLOAD_TIMEOUT)"),
    ("hash", True, "data.sha256: the file downloaded from"),
])
def test_data_download_fault_is_one_line_and_leaves_no_file(workdir, loopback, capsys, fault, pinned, expected):
    good = brainchip_pickle(loopback.root / "kws.pkl", num_classes=3, train_per_class=4, val_per_class=2)
    digest = sha256(good)
    name = "missing.pkl" if fault == "404" else "kws.pkl"
    loopback.faults[name] = [fault] * 2 if fault in ("drop", "slow") else []
    pin = "0" * 64 if fault == "hash" else digest if pinned else ""
    start = time.perf_counter()
    status, err = run("fetch", workdir, capsys, data={"source": "brainchip", "url": loopback.url(name), "sha256": pin})
    seconds = time.perf_counter() - start
    key = "data.sha256" if fault == "hash" else f"data.url: cannot download {loopback.url(name)} (2 attempts): "
    assert_one_error_line(status, err, "fetch", key)
    assert expected in err
    if fault == "hash":
        assert digest in err and "0" * 64 in err
    assert loopback.requests[name] == 2  # the first attempt and one retry
    assert cached_files(workdir) == [] and not (workdir / "data").exists()
    if fault == "slow":
        assert seconds < 2 * loopback.slow_seconds  # the client gave up; it did not wait for the server

    # the server is well again: the next run downloads (nothing from the failed one was trusted)
    loopback.faults.clear()
    url = loopback.url("kws.pkl")
    status, err = run("fetch", workdir, capsys, data={"source": "brainchip", "url": url, "sha256": digest})
    assert status == 0, err
    assert cached_files(workdir) == ["kws.pkl"] and sha256(cache_file(workdir, url)) == digest


def test_a_server_nobody_listens_on_is_one_line(workdir, capsys):
    with socket.socket() as s:  # a free port, closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/kws.pkl"
    status, err = run("fetch", workdir, capsys, data={"source": "brainchip", "url": url})
    assert (status, err) == (2, f"edgetune fetch: error: data.url: cannot download {url} (2 attempts): cannot connect: "
                                "no network, or the server refused; use data.source: synthetic offline, or download the "
                                "file elsewhere and set data.source: file, data.path\n")
    assert cached_files(workdir) == []


def test_a_500_then_success_is_retried_and_logged(workdir, loopback, capsys, caplog):
    good = brainchip_pickle(loopback.root / "kws.pkl", num_classes=3, train_per_class=4, val_per_class=2)
    loopback.faults["kws.pkl"] = ["500"]
    with caplog.at_level(logging.INFO):
        status, err = run("fetch", workdir, capsys,
                          data={"source": "brainchip", "url": loopback.url("kws.pkl"), "sha256": sha256(good)})
    assert status == 0, err
    assert loopback.requests["kws.pkl"] == 2
    assert any("Will attempt the download again 1 more time" in r.getMessage() for r in caplog.records)
    assert cached_files(workdir) == ["kws.pkl"] and (workdir / "data/kws.npz").is_file()


def test_a_downloaded_pickle_that_runs_code_is_refused_and_leaves_the_cache(workdir, loopback, capsys):
    marker = workdir / "pwned"
    served = loopback.root / "kws.pkl"
    served.write_bytes(pickle.dumps([RunsCode(marker)] + brainchip_list(3, 4, 2)[1:]))
    url = loopback.url("kws.pkl")
    status, err = run("fetch", workdir, capsys, data={"source": "brainchip", "url": url})  # no hash pinned
    assert_one_error_line(status, err, "fetch", f"data.url = {url}: refused to unpickle")
    assert "posix.system" in err and not marker.exists()
    assert cached_files(workdir) == [] and not (workdir / "data").exists()
    # with no hash pinned, a file left in the cache would be used as is; it was removed, so a fixed
    # file on the server is downloaded and read
    brainchip_pickle(served, num_classes=3, train_per_class=4, val_per_class=2)
    status, err = run("fetch", workdir, capsys, data={"source": "brainchip", "url": url})
    assert status == 0, err
    assert loopback.requests["kws.pkl"] == 2 and not marker.exists()


def test_two_urls_ending_in_the_same_file_name_each_get_their_own_bytes(workdir, loopback):
    log = logging.getLogger("test")
    for folder, body in (("a", b"first file"), ("b", b"second file, another length")):
        (loopback.root / folder).mkdir()
        (loopback.root / folder / "kws.pkl").write_bytes(body)
    first, second = loopback.url("a/kws.pkl"), loopback.url("b/kws.pkl")
    # no sha256 pinned: nothing but the cache's key tells the two files apart
    assert download.fetch(first, "", "data", "offline", log).read_bytes() == b"first file"
    assert download.fetch(second, "", "data", "offline", log).read_bytes() == b"second file, another length"
    assert download.fetch(first, "", "data", "offline", log) == cache_file(workdir, first)
    assert dict(loopback.requests) == {"a/kws.pkl": 1, "b/kws.pkl": 1}  # the third call: the cache served
    # pinned: each URL keeps its own file, so neither one's download replaces the other's
    pins = {url: hashlib.sha256(loopback.root.joinpath(urlsplit(url).path[1:]).read_bytes()).hexdigest()
            for url in (first, second)}
    for url in (second, first, second):
        assert sha256(download.fetch(url, pins[url], "data", "offline", log)) == pins[url]
    assert dict(loopback.requests) == {"a/kws.pkl": 1, "b/kws.pkl": 1}
    assert sorted(p.relative_to(workdir / "cache").as_posix() for p in (workdir / "cache").rglob("*") if p.is_file()) \
        == sorted(cache_file(workdir, url).relative_to(workdir / "cache").as_posix() for url in (first, second))


def test_a_file_put_in_the_cache_with_the_pinned_hash_is_used_without_any_request(workdir, loopback):
    url = loopback.url("kws.pkl")  # not on the server: a request would get a 404
    placed = cache_file(workdir, url)
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"copied here by hand")
    assert download.fetch(url, sha256(placed), "data", "offline", logging.getLogger("test")) == placed
    assert dict(loopback.requests) == {}


def test_a_cache_folder_that_cannot_be_made_is_one_line_naming_the_variable(workdir, loopback, monkeypatch):
    (workdir / "afile").write_text("a file, not a folder")  # (chmod would not stop root)
    url = loopback.url("kws.pkl")
    folder = workdir / "afile" / "sub" / hashlib.sha256(url.encode()).hexdigest()[:16]
    monkeypatch.setenv("EDGETUNE_CACHE_DIR", str(workdir / "afile" / "sub"))
    with pytest.raises(EdgetuneError, match=re.escape(
            f"environment variable EDGETUNE_CACHE_DIR='{workdir}/afile/sub': cannot store kws.pkl in {folder} "
            "(Not a directory); set EDGETUNE_CACHE_DIR to a writable folder") + "$"):
        download.fetch(url, "", "data", "offline", logging.getLogger("test"))
    monkeypatch.delenv("EDGETUNE_CACHE_DIR")  # the default, the user's cache, under the same file
    monkeypatch.setenv("XDG_CACHE_HOME", str(workdir / "afile"))
    folder = workdir / "afile" / "edgetune" / folder.name
    with pytest.raises(EdgetuneError, match=re.escape(
            f"the download cache {workdir}/afile/edgetune: cannot store kws.pkl in {folder} "
            "(Not a directory); set EDGETUNE_CACHE_DIR to a writable folder") + "$"):
        download.fetch(url, "", "data", "offline", logging.getLogger("test"))
    assert dict(loopback.requests) == {}


@pytest.mark.parametrize("name, value, expected", [
    ("TIMEOUT", "abc", "seconds from 0.001 to 86400; unset it for the default (60)"),
    ("TIMEOUT", "0", "seconds from 0.001 to 86400; unset it for the default (60)"),
    ("TIMEOUT", "nan", "seconds from 0.001 to 86400; unset it for the default (60)"),
    ("TIMEOUT", "inf", "seconds from 0.001 to 86400; unset it for the default (60)"),
    ("TIMEOUT", "1e12", "seconds from 0.001 to 86400; unset it for the default (60)"),
    ("RETRIES", "1.5", "a whole number ≥ 0; unset it for the default (2)"),
    ("RETRIES", "-1", "a whole number ≥ 0; unset it for the default (2)"),
    ("RETRIES", "two", "a whole number ≥ 0; unset it for the default (2)"),
])
def test_a_bad_download_variable_is_one_line_naming_it(workdir, loopback, monkeypatch, name, value, expected):
    monkeypatch.setenv(f"EDGETUNE_DOWNLOAD_{name}", value)
    with pytest.raises(EdgetuneError, match=re.escape(
            f"environment variable EDGETUNE_DOWNLOAD_{name}={value!r}: expected {expected}") + "$"):
        download.fetch(loopback.url("kws.pkl"), "", "data", "offline", logging.getLogger("test"))
    assert dict(loopback.requests) == {}


@pytest.fixture(scope="module")
def float_h5(tmp_path_factory) -> Path:
    """The v1 DS-CNN-edge architecture saved before quantization: a Keras .h5 cnn2snn cannot convert."""
    ds = make_fake_kws(num_classes=3, train_per_class=4, val_per_class=2)
    return pretrained_v1_h5(tmp_path_factory.mktemp("h5") / "float.h5", ds.x_train, 3, quantized=False)


def test_extractor_h5_that_is_not_quantized_is_one_line_and_leaves_the_cache(workdir, loopback, capsys, float_h5):
    save_dataset(workdir / "data/kws.npz", make_fake_kws(num_classes=3, train_per_class=4, val_per_class=2))
    served = loopback.root / "model.h5"
    served.write_bytes(float_h5.read_bytes())
    url = loopback.url("model.h5")
    status, err = run("extractor", workdir, capsys, extractor={"source": "brainchip", "url": url, "sha256": sha256(served)})
    assert_one_error_line(status, err, "extractor", f"extractor.url: {url} could not be converted to Akida")
    assert "must be QuantizedConv2D" in err and "quantized Keras .h5 for Akida 1.0" in err
    assert cached_files(workdir) == [] and not (workdir / "models").exists()

    served.write_bytes(b"<html>not found</html>")  # a proxy's error page saved as the model
    status, err = run("extractor", workdir, capsys, extractor={"source": "brainchip", "url": url, "sha256": ""})
    assert_one_error_line(status, err, "extractor", f"extractor.url: {url} is not a loadable Keras model")
    assert cached_files(workdir) == [] and loopback.requests["model.h5"] == 2


def test_extractor_download_failure_names_the_extractor_params_and_the_cache(workdir, loopback, capsys):
    save_dataset(workdir / "data/kws.npz", make_fake_kws(num_classes=3, train_per_class=4, val_per_class=2))
    url = loopback.url("ds_cnn_kws_iq8_wq4_aq4_laq1.h5")
    status, err = run("extractor", workdir, capsys, extractor={"source": "brainchip", "url": url})
    assert_one_error_line(status, err, "extractor", f"extractor.url: cannot download {url} (2 attempts): HTTP 404")
    assert f"put the file at {cache_file(workdir, url)} " in err
    assert cached_files(workdir) == []


def test_pretrained_h5_with_its_own_rescaling_converts_to_the_same_spikes(tmp_path):
    """Both layouts of the v1 model: input_scaling=(255, 0) given to convert (the tutorial's call), or a
    Rescaling layer in the model (akida_models' later files); the Akida extractor is the same."""
    from edgetune.extractor import brainchip_model

    ds = make_fake_kws(num_classes=3, train_per_class=20, val_per_class=5)
    spikes = []
    for rescaling in (False, True):
        path = pretrained_v1_h5(tmp_path / f"r{rescaling}.h5", ds.x_train, 3, rescaling=rescaling)
        model = brainchip_model.convert_pretrained(path, str(path))
        model.pop_layer()
        spikes.append(model.forward(ds.x_val))
    assert spikes[0].shape == (len(ds.x_val), 1, 1, 64)
    assert 0 < spikes[0].mean() < 1
    np.testing.assert_array_equal(spikes[0], spikes[1])
