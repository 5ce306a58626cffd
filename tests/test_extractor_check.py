"""One extractor check (edgetune.extractor.check): each fault has one message, whichever stage meets it.

The extractor stage checks the model it makes (here: source=file), the spikes stage and the
whole-model fit (table-train) check ``models/extractor.fbz``; the same bad model must get the
same sentence from all three.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from akida import Conv2D, FullyConnected, InputConv2D, InputConvolutional, Model, Padding, PoolType

from akida_fixtures import make_tiny_extractor
from edgetune.edge import layer as edge
from edgetune.edge import spikes as spikes_stage
from edgetune.edge import whole_model
from edgetune.errors import EdgetuneError
from edgetune.extractor import build, check
from fake_kws import save_fake_kws

WIDTH = 12


def conv_model(input_shape=(49, 10, 1), *, pooled: bool = True, activation: bool = True) -> Model:
    model = Model()
    model.add(InputConvolutional(input_shape=input_shape, kernel_size=(5, 5), kernel_stride=(2, 2), filters=8,
                                 name="conv_0", padding=Padding.Same, weights_bits=8, act_bits=4))
    if pooled:
        model.add(FullyConnected(name="spikes", units=WIDTH, weights_bits=2, act_bits=1, activation=activation))
    return model


def akida2_model(output_bits: int) -> Model:
    model = Model()
    model.add(InputConv2D(input_shape=(49, 10, 1), filters=8, kernel_size=3, output_bits=4))
    model.add(Conv2D(name="spikes", filters=16, kernel_size=3, output_bits=output_bits, pool_type=PoolType.Average))
    return model


# fault → (model, its message after "<origin>: ")
FAULTS = {
    "output shape": (lambda: conv_model(pooled=False),
                     "the model's output shape is (25, 5, 8), expected (1, 1, D) spikes; the extractor must end "
                     "with a 1×1 map (global pooling before its last layer)"),
    "no activation": (lambda: conv_model(activation=False),
                      "last layer 'spikes' has no activation, so it outputs potentials, not spikes; pop the "
                      "classifier (model.pop_layer()) so the extractor ends with its 1-bit activation layer"),
    "multi-bit activation": (lambda: akida2_model(output_bits=4),
                             "last layer 'spikes' has 4-bit activations; edge learning needs binary spikes "
                             "(quantize that layer's activation to 1 bit before converting)"),
}


def extractor_stage(tmp_path: Path, model_path: Path) -> None:
    """The extractor stage, on source=file."""
    data = tmp_path / "kws.npz"
    save_fake_kws(data, num_classes=3, train_per_class=10, val_per_class=5)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"extractor": {"source": "file", "path": str(model_path)}}))
    build.run(params, data, tmp_path / "out" / "extractor.fbz", tmp_path / "out" / "extractor.json")


def spikes_stage_load(tmp_path: Path, model_path: Path) -> None:
    spikes_stage.load_extractor(model_path)


def whole_model_fit(tmp_path: Path, model_path: Path) -> None:
    whole_model.append_edge_layer(model_path, edge.EdgeConfig(num_classes=3, neurons_per_class=1, num_weights=4), WIDTH)


CALLERS = {
    "extractor": (extractor_stage, lambda path: f"extractor.source = 'file', path '{path}'"),
    "spikes": (spikes_stage_load, str),
    "table-train": (whole_model_fit, str),
}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_has_one_message_in_every_stage(tmp_path, fault, caller):
    make, message = FAULTS[fault]
    path = tmp_path / "extractor.fbz"
    make().save(str(path))
    call, origin = CALLERS[caller]
    with pytest.raises(EdgetuneError) as info:
        call(tmp_path, path)
    assert str(info.value) == f"{origin(path)}: {message}"
    if caller == "extractor":  # the stage refused the model before writing anything
        assert not (tmp_path / "out").exists()


def test_an_extractor_that_does_not_take_the_samples_is_one_line_naming_both(tmp_path):
    path = tmp_path / "extractor.fbz"
    conv_model((49, 12, 1)).save(str(path))
    with pytest.raises(EdgetuneError) as info:
        extractor_stage(tmp_path, path)
    assert str(info.value) == (f"extractor.source = 'file', path '{path}': the model takes inputs of shape (49, 12, 1), "
                               f"but the samples of {tmp_path / 'kws.npz'} are (49, 10, 1); give an extractor built "
                               "for those samples, or data of its input shape")
    with pytest.raises(EdgetuneError) as info:
        check.load_extractor(path, samples=((49, 10, 1), "data/kws.npz"))  # what the spikes stage calls
    assert str(info.value) == (f"{path}: the model takes inputs of shape (49, 12, 1), but the samples of data/kws.npz "
                               "are (49, 10, 1); give an extractor built for those samples, or data of its input shape")


@pytest.mark.parametrize("caller", ["spikes", "table-train"])
def test_a_missing_or_unreadable_file_has_one_message_in_every_stage(tmp_path, caller):
    call, _ = CALLERS[caller]
    missing = tmp_path / "missing.fbz"
    with pytest.raises(EdgetuneError) as info:
        call(tmp_path, missing)
    assert str(info.value) == f"{missing}: not found; run the extractor stage first (dvc repro extractor)"
    junk = tmp_path / "junk.fbz"
    junk.write_bytes(b"not a model")
    with pytest.raises(EdgetuneError) as info:
        call(tmp_path, junk)
    assert str(info.value).startswith(f"{junk}: not a readable Akida model (")
    assert str(info.value).endswith("); rerun dvc repro extractor")


def test_spikes_of_another_width_are_stale_in_every_stage_that_reads_both(tmp_path):
    path = tmp_path / "extractor.fbz"
    make_tiny_extractor(path, np.zeros((4, 49, 10, 1), np.uint8), width=WIDTH + 8)
    expected = f"{path}: outputs (1, 1, {WIDTH + 8}) but the spikes are {WIDTH} wide; the spikes are stale, rerun dvc repro spikes"
    with pytest.raises(EdgetuneError) as info:
        whole_model_fit(tmp_path, path)
    assert str(info.value) == expected
    with pytest.raises(EdgetuneError) as info:
        check.load_extractor(path, WIDTH)  # what fewshot calls
    assert str(info.value) == expected


def test_non_binary_output_has_one_message_whether_checked_or_forwarded():
    values = np.array([[0, 1, 3], [2, 0, 1]])
    with pytest.raises(EdgetuneError) as info:
        check.refuse_non_binary(values, "x.fbz", "train samples 0..1")
    assert str(info.value) == (
        "x.fbz: the output is not binary (values 0..3 on train samples 0..1); the extractor's last layer must "
        "have 1-bit activations — if the model still ends with its classifier, remove it (akida Model.pop_layer())")
    check.refuse_non_binary(np.array([[0, 1], [1, 1]]), "x.fbz", "two samples")  # binary: accepted


def test_akida2_extractor_with_1_bit_output_is_accepted(tmp_path):
    path = tmp_path / "extractor.fbz"
    akida2_model(output_bits=1).save(str(path))
    assert tuple(check.load_extractor(path, 16).output_shape) == (1, 1, 16)
