"""The extractor stage: real TensorFlow/cnn2snn training, real akida models, real `dvc repro`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import akida
import numpy as np
import pytest
import yaml

from conftest import REPO, project_env
from edgetune.extractor import build as extractor
from edgetune.errors import EdgetuneError
from edgetune.extractor.identity import cpu_name, file_md5
from edgetune.params import ExtractorParams
from fake_kws import make_fake_kws, save_fake_kws

# Small enough for ~15 s of training on 2 cores; one epoch learns (4 classes) with a higher
# learning rate than the default (the cosine decay halves the mean rate over a single epoch).
TINY_TRAIN = dict(conv_filters=8, separable_filters=16, spike_width=32, epochs=1, qat_epochs=1,
                  batch_size=16, learning_rate=3e-3)
TINY_DATA = dict(num_classes=4, train_per_class=100, val_per_class=20)


def forward_val(model_path: Path, ds) -> np.ndarray:
    model = akida.Model(str(model_path))
    return model.forward(ds.x_val)


def test_train_stage_in_dvc_gives_live_binary_spikes_deterministically(dvc_project):
    ds = save_fake_kws(dvc_project.root / "data" / "kws.npz", **TINY_DATA)
    dvc_project.set_params(extractor=TINY_TRAIN)
    dvc_project.commit("tiny extractor params")
    dvc_project.run("dvc", "repro", "-s", "extractor")

    model_path = dvc_project.root / "models" / "extractor.fbz"
    spikes = forward_val(model_path, ds)
    assert spikes.shape == (len(ds.x_val), 1, 1, 32)
    assert set(np.unique(spikes).tolist()) == {0, 1}
    per_sample = spikes.reshape(len(spikes), -1).sum(axis=1)
    # a trained model's bytes follow the CPU that trained it (docs/reproducibility.md): its figures are
    # checked against its own spikes, not pinned; the spike layer is calibrated to fire 30 % of the time
    assert 0 < np.median(per_sample) < 32

    metrics = json.loads((dvc_project.root / "metrics" / "extractor.json").read_text())
    assert metrics["extractor_source"] == "train"
    assert metrics["spike_width"] == 32
    assert metrics["val_median_spikes"] == float(np.median(per_sample))
    assert metrics["mean_spikes"] == round(float(per_sample.mean()), 3)
    assert metrics["firing_fraction"] == round(float(spikes.mean()), 4)
    by_neuron = spikes.reshape(len(spikes), -1).sum(axis=0)
    assert metrics["neurons_never_firing"] == int(np.sum(by_neuron == 0))
    assert metrics["neurons_always_firing"] == int(np.sum(by_neuron == len(spikes)))
    for key in ("float_val_accuracy", "quantized_val_accuracy", "akida_val_accuracy"):
        # 4 classes, chance 0.25; counts over 80 samples: a multiple of 1/80
        assert metrics[key] > 0.4 and round(metrics[key] * 80, 6) == int(round(metrics[key] * 80)), (key, metrics)
    assert "train_seconds" not in metrics  # wall-clock lives apart, so the metrics stay byte-stable
    assert json.loads((dvc_project.root / "metrics/time/extractor.json").read_text())["extractor_train_seconds"] > 0

    # DVCLive's curves: one row per epoch and phase, no timestamp; its summary is the last epoch
    root = dvc_project.root
    live = json.loads((root / "dvclive/metrics.json").read_text())
    assert live["step"] == 2 and set(live) == {"loss", "accuracy", "step"}
    assert set(live["loss"]) == set(live["accuracy"]) == {"float_train", "float_val", "qat_train", "qat_val"}
    assert (root / "dvclive/plots/metrics/loss/float_val.tsv").read_text().splitlines()[0] == "step\tfloat_val"
    assert (root / "dvclive/plots/metrics/accuracy/qat_train.tsv").read_text().splitlines()[1].startswith("1\t")
    assert not (root / "dvclive/dvc.yaml").exists() and not (root / "dvclive/report.html").exists()
    # the classifier's confusion CSV: one row per validation sample, class names
    rows = (root / "plots/confusion/extractor.csv").read_text().splitlines()
    assert rows[0] == "actual,predicted" and len(rows) == 1 + len(ds.y_val)
    assert {r.split(",")[0] for r in rows[1:]} == {str(c) for c in ds.classes}
    # dvc plots sees the curves and the confusion matrices (templates confusion / confusion_normalized)
    shown = json.loads(dvc_project.run("dvc", "plots", "show", "--json").stdout)["data"]
    assert {"extractor_loss", "extractor_accuracy", "extractor_confusion", "extractor_confusion_normalized"} <= set(shown)
    # which extractor this is: the record the report names it by
    ident = json.loads((root / "results/extractor_identity.json").read_text())
    assert ident["model_md5"] == file_md5(model_path) and ident["data"] == {"path": "data/kws.npz",
                                                                          "md5": file_md5(root / "data/kws.npz")}
    assert ident["params"] == {**ExtractorParams().model_dump(), **TINY_TRAIN}
    assert ident["made"] == {"how": "trained", "cpu": cpu_name(), "tensorflow": "2.19.1", "onednn_max_cpu_isa": "AVX2",
                             "intraop_threads": "2"}
    # the model is kept in git beside the code (cache: false), not in DVC's cache
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["extractor"]
    assert {o["path"]: o["md5"] for o in lock["outs"]}["models/extractor.fbz"] == ident["model_md5"]
    assert not (root / "models/.gitignore").exists()
    # no git side effect: only the stage's outputs changed, DVCLive made no commit, ref or experiment
    status = dvc_project.run("git", "status", "--porcelain").stdout
    assert not [line for line in status.splitlines() if "dvclive" not in line and "plots/" not in line
                and "metrics/" not in line and "dvc.lock" not in line and ".gitignore" not in line
                and "models/" not in line and "results/" not in line], status
    assert dvc_project.run("git", "rev-list", "--count", "--all").stdout.strip() == "2"
    assert dvc_project.run("dvc", "exp", "list", "--all-commits").stdout.strip() == ""

    first = model_path.read_bytes()
    tracked = ["metrics/extractor.json", "dvclive/metrics.json", "plots/confusion/extractor.csv",
               *[str(p.relative_to(root)) for p in sorted((root / "dvclive/plots").rglob("*.tsv"))]]
    before = {p: (root / p).read_bytes() for p in tracked}
    dvc_project.run("dvc", "repro", "-s", "-f", "extractor")
    assert model_path.read_bytes() == first, "same params and data must give a byte-identical .fbz"
    assert {p: (root / p).read_bytes() for p in tracked} == before, "the curves and metrics are byte-stable too"

    # The user's own .fbz (here: the one just trained) through source=file gives the same spikes.
    user_model = dvc_project.root / "user" / "my_extractor.fbz"
    user_model.parent.mkdir()
    user_model.write_bytes(first)
    dvc_project.set_params(extractor={"source": "file", "path": "user/my_extractor.fbz"})
    dvc_project.run("dvc", "repro", "-s", "extractor")
    from_file = json.loads((dvc_project.root / "metrics" / "extractor.json").read_text())
    assert from_file["extractor_source"] == "file"
    assert from_file["akida_val_accuracy"] is None
    assert json.loads((root / "results/extractor_identity.json").read_text())["made"] == {
        "how": "given", "path": "user/my_extractor.fbz"}
    assert json.loads((root / "dvclive/metrics.json").read_text()) == {}  # nothing trained: no curve
    assert [p.name for p in (root / "dvclive/plots").iterdir()] == ["no-curves.txt"]
    assert (root / "plots/confusion/extractor.csv").read_text() == "actual,predicted\n"  # no classifier
    assert json.loads((dvc_project.root / "metrics/time/extractor.json").read_text())["extractor_train_seconds"] is None
    assert {k: from_file[k] for k in ("spike_width", "val_median_spikes", "neurons_never_firing")} == \
        {k: metrics[k] for k in ("spike_width", "val_median_spikes", "neurons_never_firing")}
    assert model_path.read_bytes() == first


# --- source=file: models made with the akida API (no TensorFlow, so these are fast) ---

def akida_model(path: Path, input_shape=(49, 10, 1), act_bits=1, pooling=True, weights=None, width=16) -> Path:
    """A one-layer Akida 1.0 model: 3×3 convolution (+ global average pooling) with act_bits activations."""
    model = akida.Model()
    model.add(akida.InputConvolutional(
        input_shape=input_shape, filters=width, kernel_size=(3, 3), padding=akida.Padding.Same, weights_bits=4,
        act_bits=act_bits, pool_type=akida.PoolType.Average if pooling else akida.PoolType.NoPooling, name="conv"))
    layer = model.get_layer("conv")
    if weights is None:  # mixed signs: some neurons fire, some do not
        weights = np.random.default_rng(0).integers(-7, 8, size=(3, 3, input_shape[-1], width))
    layer.set_variable("weights", np.broadcast_to(weights, (3, 3, input_shape[-1], width)).astype(np.int8))
    model.save(str(path))
    return path


@pytest.fixture
def file_run(tmp_path):
    """Run the extractor in-process on a tiny dataset with source=file and the given model."""
    data = tmp_path / "kws.npz"
    save_fake_kws(data, **TINY_DATA)

    def run(model_path: Path) -> dict:
        params = tmp_path / "params.yaml"
        params.write_text(yaml.safe_dump({"extractor": {"source": "file", "path": str(model_path)}}))
        return extractor.run(params, data, tmp_path / "out" / "extractor.fbz", tmp_path / "out" / "extractor.json")

    return run


def test_file_good_binary_model_is_accepted(tmp_path, file_run):
    metrics = file_run(akida_model(tmp_path / "good.fbz"))
    assert metrics["extractor_source"] == "file" and metrics["spike_width"] == 16
    # global average pooling of uint8 inputs (>= 0): a neuron's pooled potential is close to the mean input
    # times its 3×3 weights' sum, and here that sum's sign decides on every sample: the 10 neurons whose
    # sum is positive fire on all 80, the other 6 (5 negative sums, one 0) on none
    positive = np.random.default_rng(0).integers(-7, 8, size=(3, 3, 1, 16)).sum(axis=(0, 1, 2)) > 0
    assert int(positive.sum()) == 10
    assert {k: metrics[k] for k in ("val_median_spikes", "mean_spikes", "firing_fraction", "neurons_never_firing",
                                    "neurons_always_firing", "val_spike_samples")} == {
        "val_median_spikes": 10.0, "mean_spikes": 10.0, "firing_fraction": 0.625, "neurons_never_firing": 6,
        "neurons_always_firing": 10, "val_spike_samples": 80}
    saved = akida.Model(str(tmp_path / "out" / "extractor.fbz"))
    assert tuple(saved.output_shape) == (1, 1, 16)
    spikes = saved.forward(make_fake_kws(**TINY_DATA).x_val).reshape(80, 16)
    assert np.array_equal(spikes, np.broadcast_to(positive, spikes.shape))


def test_file_with_dead_spikes_is_refused(tmp_path, file_run):
    path = akida_model(tmp_path / "dead.fbz", weights=-7)  # inputs are >= 0: never fires
    with pytest.raises(EdgetuneError, match=re.escape(
            f"extractor.source = 'file', path '{path}': every spike is 0 on the 80 validation samples, so edge "
            "learning would learn nothing; the 1-bit layer needs calibrating (source train: more epochs or a higher "
            "extractor.firing_target)") + "$"):
        file_run(path)
    assert not (tmp_path / "out" / "extractor.fbz").exists()


def test_file_missing_or_unknown_type_is_refused(tmp_path, file_run):
    """(A bad model's shape or activations: test_extractor_check.py, one message in every stage.)"""
    missing = tmp_path / "nowhere.fbz"
    with pytest.raises(EdgetuneError, match=re.escape(
            f"extractor.path = '{missing}': file not found; give the path (from the repository root) of an Akida "
            ".fbz or a quantized Keras .h5") + "$"):
        file_run(missing)
    (tmp_path / "model.onnx").write_bytes(b"\0")
    with pytest.raises(EdgetuneError, match=re.escape(
            f"extractor.path = '{tmp_path / 'model.onnx'}': unsupported file type '.onnx'; give an Akida .fbz or a "
            "quantized Keras .h5") + "$"):
        file_run(tmp_path / "model.onnx")
    (tmp_path / "broken.fbz").write_bytes(b"not a model")
    with pytest.raises(EdgetuneError, match=re.escape(
            f"extractor.path = '{tmp_path / 'broken.fbz'}': not a readable Akida model (Unable to parse any layer "
            "in the serialized model.)") + "$"):
        file_run(tmp_path / "broken.fbz")


# --- the Keras side: calibration, BN statistics, a quantized .h5 given by the user ---

def test_quantized_keras_h5_is_calibrated_converted_and_accepted(tmp_path, file_run):
    from edgetune.logs import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tf_keras as keras
    from cnn2snn import AkidaVersion, quantize, quantize_layer, set_akida_version

    from edgetune.extractor import dscnn

    ds = make_fake_kws(**TINY_DATA)
    dscnn.seed_everything(0)
    with set_akida_version(AkidaVersion.v1):
        model = dscnn.build_dscnn_edge(4, conv_filters=8, separable_filters=16, spike_width=24)
        # Untrained BN statistics (mean 0, variance 1) are far from the data's: re-estimated, they match.
        dscnn.reestimate_batchnorm(model, ds.x_train)
        bn = model.get_layer("conv_0/BN")
        conv_out = keras.Model(model.input, bn.input).predict(ds.x_train, verbose=0)
        np.testing.assert_allclose(bn.moving_mean.numpy(), conv_out.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(bn.moving_variance.numpy(), conv_out.var(axis=(0, 1, 2)), rtol=1e-3)

        quantized = quantize(model, weight_quantization=4, activ_quantization=4, input_weight_quantization=8)
        quantized = quantize_layer(quantized, dscnn.SPIKE_ACTIVATION, bitwidth=1)
        dscnn.calibrate_spike_layer(quantized, ds.x_train, firing_target=0.25)
        assert dscnn.firing_fraction(quantized, ds.x_train) == pytest.approx(0.25, abs=0.02)

        spikes_only = keras.Model(quantized.input, quantized.get_layer(dscnn.SPIKE_ACTIVATION).output)
        spikes_only.save(tmp_path / "user.h5")

    metrics = file_run(tmp_path / "user.h5")
    assert metrics["spike_width"] == 24
    assert metrics["firing_fraction"] == pytest.approx(0.25, abs=0.1)  # val, after Akida's integer rounding


# --- source=brainchip offline ---

def test_brainchip_without_network_is_one_clear_line(tmp_path):
    save_fake_kws(tmp_path / "kws.npz", **TINY_DATA)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"extractor": {"source": "brainchip"}}))
    env = project_env()
    env.update(HOME=str(tmp_path), KERAS_HOME=str(tmp_path / "keras"), EDGETUNE_CACHE_DIR=str(tmp_path / "cache"),
               EDGETUNE_DOWNLOAD_RETRIES="0",  # no cached copy of the model, one attempt
               HTTPS_PROXY="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")  # and no network
    proc = subprocess.run([sys.executable, str(REPO / "stages" / "extractor.py"), "--params", "params.yaml",
                           "--data", "kws.npz"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    error_lines = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "needs the network" in error_lines[0] and "ds_cnn_kws_iq8_wq4_aq4_laq1.h5" in error_lines[0]
    assert not (tmp_path / "models").exists()
