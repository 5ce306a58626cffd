"""The extractor levers (SpecAugment, activation ranges, distillation) on a tiny DS-CNN."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.extractor.check import forward_spikes
from edgetune.extractor.classifier import predict_classes, split_classifier
from edgetune.extractor.mfcc_augment import SPEC_COEFF_WIDTH, SPEC_TIME_WIDTH, spec_augment
from edgetune.params import ExtractorParams, parse_params
from edgetune.errors import EdgetuneError

from fake_kws import make_fake_kws


def test_levers_default_off_and_bounded():
    p = ExtractorParams()
    assert (p.specaugment, p.activation_quantile, p.distillation) == (0, 0.999, 0.0)  # the quantile: on by default
    for key, bad, rule in (("specaugment", -1, "greater than or equal to 0"), ("activation_quantile", 1.0, "less than 1"),
                           ("distillation", 1.5, "less than or equal to 1")):
        with pytest.raises(EdgetuneError, match=rf"^params.yaml: extractor.{key} = {bad}: Input should be {rule}$"):
            parse_params({"extractor": {key: bad}})


def test_spec_augment_masks_whole_frames_and_coefficients_with_the_fill():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 200, size=(64, 49, 10, 1), dtype=np.uint8)
    fill = np.full((10, 1), 255, np.uint8)  # never in x: masked cells are exactly the 255s
    out = spec_augment(x, 1, fill, np.random.default_rng(1))
    assert out.shape == x.shape and out.dtype == np.uint8
    masked = out[..., 0] == 255
    assert np.array_equal(out[~masked, None][..., 0], x[~masked, None][..., 0])  # the rest untouched
    for m in masked:
        full_rows, full_cols = m.all(axis=1), m.all(axis=0)
        assert full_rows.sum() <= SPEC_TIME_WIDTH and full_cols.sum() <= SPEC_COEFF_WIDTH
        assert np.array_equal(m, full_rows[:, None] | full_cols[None, :])  # rows and columns only
    assert masked.any()
    assert np.array_equal(spec_augment(x, 1, fill, np.random.default_rng(1)), out)  # seeded


def test_activation_scaling_keeps_the_float_function_and_widens_the_ranges():
    from edgetune.logs import import_tensorflow_quietly

    import_tensorflow_quietly()
    from cnn2snn import AkidaVersion, set_akida_version

    import tf_keras as keras

    from edgetune.extractor import dscnn

    ds = make_fake_kws(num_classes=3, train_per_class=30, val_per_class=5)
    dscnn.seed_everything(0)
    with set_akida_version(AkidaVersion.v1):
        model = dscnn.build_dscnn_edge(3, 8, 16, 32)
    for layer in model.layers:  # BN's ε would make the rescaled model differ on tiny variances
        if hasattr(layer, "epsilon"):
            layer.epsilon = 1e-9
    dscnn.reestimate_batchnorm(model, ds.x_train)
    before = model.predict(ds.x_train, verbose=0)
    bn = model.get_layer("conv_0/BN")
    gamma = bn.gamma.numpy().copy()
    dscnn.scale_activation_ranges(model, ds.x_train, 0.99999)
    after = model.predict(ds.x_train, verbose=0)
    assert not np.allclose(bn.gamma.numpy(), gamma)
    # the next BN renormalises: the function is the same but for what the cap at 6 now clips
    assert np.abs(after - before).max() < 0.05
    relu = keras.Model(model.input, model.get_layer("conv_0/relu").output).predict(ds.x_train, verbose=0)
    assert np.quantile(relu[relu > 0], 0.99999) > 5.5  # the range now reaches the cap

def test_all_levers_train_and_convert_a_tiny_extractor(tmp_path):
    import akida

    from edgetune.logs import import_tensorflow_quietly

    import_tensorflow_quietly()
    from edgetune.extractor import dscnn

    ds = make_fake_kws(num_classes=4, train_per_class=60, val_per_class=10)
    p = ExtractorParams(conv_filters=8, separable_filters=16, spike_width=32, epochs=1, qat_epochs=1,
                        batch_size=16, learning_rate=3e-3, specaugment=1, activation_quantile=0.999,
                        distillation=0.5)
    trained = dscnn.train_dscnn_edge(ds, p)
    assert trained.akida_model.output_shape[-1] == 4
    # the full model as saved and read back by the engine: its class for each validation sample
    trained.akida_model.save(str(tmp_path / "full.fbz"))
    potentials = akida.Model(str(tmp_path / "full.fbz")).predict(ds.x_val)
    expected = potentials.reshape(len(ds.x_val), -1).argmax(axis=-1)
    # the stage's single pass: the extractor's spikes, scored by the classifier split off the full model
    model = trained.akida_model
    classifier = split_classifier(model, "the trained model")
    assert model.output_shape == [1, 1, 32]
    predicted = predict_classes(classifier, forward_spikes(model, ds.x_val, "the extractor"))
    assert np.array_equal(predicted, expected) and len(predicted) == 40
    # a trained model's bytes follow the CPU that trained it (docs/reproducibility.md), so its accuracy is not pinned
    classes = len(np.unique(ds.y_train))
    assert np.mean(predicted == ds.y_val) > 1 / classes and trained.float_accuracy > 1 / classes  # learned something
    with pytest.raises(EdgetuneError, match="the last layer 'separable_6' is a SeparableConvolutional with "
                                            "activation, not the classifier this stage removes"):
        split_classifier(model, "the extractor")


def test_accuracy_by_voice_pools_espeak_and_keeps_each_other_person():
    from edgetune.extractor.build import accuracy_by_voice

    speakers = np.array(["awb", "espeak-m1", "espeak-zac", "", "ked", "awb"])
    correct = np.array([True, True, False, True, False, False])
    assert accuracy_by_voice(speakers, correct) == {
        "awb": {"accuracy": 0.5, "samples": 2}, "espeak": {"accuracy": 0.5, "samples": 2},
        "ked": {"accuracy": 0.0, "samples": 1}, "silence": {"accuracy": 1.0, "samples": 1}}


def test_positive_outputs_in_blocks_are_the_whole_arrays_values():
    """activation_quantile's memory-bounded pass gives exactly what one float64 pass gave."""
    from edgetune.logs import import_tensorflow_quietly

    import_tensorflow_quietly()
    from edgetune.extractor.dscnn import positive_outputs

    rng = np.random.default_rng(0)
    inputs = rng.normal(0.3, 2.0, size=(300, 5, 3, 8)).astype(np.float32)
    axes = (0, 1, 2)
    mean, var = inputs.mean(axis=axes, dtype=np.float64), inputs.var(axis=axes, dtype=np.float64)
    gamma, beta = rng.normal(1, 0.2, 8), rng.normal(0, 0.5, 8)
    whole = (inputs - mean) / np.sqrt(var + 1e-3) * gamma + beta
    blocks = positive_outputs(inputs, mean, np.sqrt(var + 1e-3), gamma, beta, chunk=7)
    assert blocks.dtype == np.float64 and np.array_equal(blocks, whole[whole > 0])
    assert np.quantile(whole[whole > 0], 0.999) == np.quantile(blocks, 0.999, overwrite_input=True)
