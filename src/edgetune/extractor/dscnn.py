"""DS-CNN-edge, the tutorial's KWS feature extractor, trained here with BrainChip's own toolchain.

BrainChip's pretrained extractor cannot be downloaded offline, so the ``train`` source rebuilds
it from the dataset: the seed's Akida 1.0 architecture (conv_0 → separable_1..5 → separable_6
with 1-bit activations, the spikes) plus a dense classifier used only to train it. The recipe
(DESIGN.md §4) is float training (augmented batches, cosine-decayed learning rate) →
BatchNormalization statistics re-estimated → ``cnn2snn.quantize`` (8-bit input weights, 4-bit weights,
4-bit activations, 1 bit on the spike layer) → calibration of the spike layer → quantization-aware
fine-tuning → recalibration → ``cnn2snn.convert``.

The layers are plain tf_keras layers laid out exactly as akida_models 1.14.2's v1
``conv_block``/``separable_conv_block`` lay them out (names ``<block>``, ``<block>/BN``,
``<block>/relu``; global average pooling before BN, ReLU capped at 6). Writing them here keeps
akida-models and its gigabyte of dependencies out of the default path.

Call :func:`edgetune.logs.import_tensorflow_quietly` before importing this module.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tf_keras as keras
from cnn2snn import AkidaVersion, convert, quantize, quantize_layer, set_akida_version

from edgetune.extractor.curves import Curves, keras_callback
from edgetune.dataset import MFCC_SHAPE, KwsDataset
from edgetune.errors import EdgetuneError
from edgetune.extractor.dscnn_training import AugmentedBatches, Distilled, EpochBar
from edgetune.params import ExtractorParams

log = logging.getLogger(__name__)

SPIKE_LAYER = "separable_6"
SPIKE_ACTIVATION = f"{SPIKE_LAYER}/relu"
CLASSIFIER = "classifier"
RELU_MAX = 6.0  # Akida 1.0 ReLUs are capped at 6 (akida_models' get_params_by_version for v1)
# BatchNormalization's default momentum (0.99) does not converge in a short training and the
# folded weights come out as garbage (val acc 3 %, measured): 0.9 does.
BN_MOMENTUM = 0.9
PREDICT_BATCH = 1024
PHASES = ("float", "qat")  # training phases, as the curves name them
BN_SAMPLES = 2048  # samples for the BatchNormalization statistics (≈ 65 MB of activations per layer)
QUANTILE_CHUNK = 128  # samples per float64 block in scale_activation_ranges (≈ 8 MB per block)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and TensorFlow and make TF ops deterministic: same seed → same bytes."""
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def build_dscnn_edge(num_classes: int, conv_filters: int = 32, separable_filters: int = 64,
                     spike_width: int = 256, input_shape: tuple[int, ...] = MFCC_SHAPE) -> keras.Model:
    """The seed's DS-CNN-edge as a float Keras model (call inside the Akida 1.0 context), for the
    dataset's samples: KWS MFCC frames, or any (H, W, C) image with 1 or 3 channels."""
    layers = keras.layers

    def bn_relu(x, name):
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}/BN")(x)
        return layers.ReLU(RELU_MAX, name=f"{name}/relu")(x)

    def separable(x, filters, name, global_avg=False):
        x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
        if global_avg:
            x = layers.GlobalAveragePooling2D(name=f"{name}/global_avg")(x)
        return bn_relu(x, name)

    inputs = layers.Input(shape=input_shape, name="input", dtype="uint8")
    # The Rescaling layer tells cnn2snn.convert the input scaling (255, 0): Akida takes the uint8 samples.
    x = layers.Rescaling(1.0 / 255, 0.0, name="rescaling")(inputs)
    x = layers.Conv2D(conv_filters, (5, 5), strides=(2, 2), padding="same", use_bias=False, name="conv_0")(x)
    x = bn_relu(x, "conv_0")
    for i in range(1, 5):
        x = separable(x, separable_filters, f"separable_{i}")
    x = separable(x, separable_filters, "separable_5", global_avg=True)
    # Global average pooling outputs a vector; separable_6 needs a 1×1 map (it then only uses
    # its kernel's centre tap, as the seed's separable_6 on a [1, 1, 64] input does).
    x = layers.Reshape((1, 1, separable_filters), name="reshape_5")(x)
    x = separable(x, spike_width, SPIKE_LAYER)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(num_classes, name=CLASSIFIER)(x)
    outputs = layers.Activation("softmax", name="act_softmax")(x)
    return keras.Model(inputs, outputs, name="ds_cnn_edge")


def _fit(model: keras.Model, ds: KwsDataset, p: ExtractorParams, epochs: int, lr: float, desc: str,
         phase: int, curves: Curves | None = None, teacher: keras.Model | None = None) -> None:
    """Adam with a cosine-decayed learning rate on augmented batches (seeded by ``p.seed`` and ``phase``).

    With a ``teacher`` (``extractor.distillation`` > 0) the model learns from its soft outputs too.
    """
    batches = AugmentedBatches(ds.x_train, ds.y_train, p.batch_size, p.augment_shift, p.augment_noise,
                               seed=(p.seed, phase), specaugment=p.specaugment)
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=epochs * len(batches))
    if teacher is not None:
        trainer = Distilled(model, teacher, p.distillation)
        trainer.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule))
        trainer.fit(batches, epochs=epochs, shuffle=False, verbose=0, callbacks=[EpochBar(desc, epochs)])
        return
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(batches, epochs=epochs, shuffle=False, verbose=0, validation_data=(ds.x_val, ds.y_val),
              callbacks=[EpochBar(desc, epochs), keras_callback(curves, PHASES[phase])])


def reestimate_batchnorm(model: keras.Model, x: np.ndarray) -> None:
    """Set each BatchNormalization's moving statistics to the exact statistics of its inputs on ``x``.

    ``cnn2snn.quantize`` folds the moving statistics into the weights. After a short training
    they still carry their initial values (mean 0, variance 1) — with momentum 0.9, 25 updates
    leave 7 % of the initial variance, which is larger than the true one — so the folded model's
    activations shrink layer after layer and all spikes die. Re-estimating them ("precise BN")
    layer by layer, in inference mode, makes the folded model match what training learned.
    """
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            inputs = keras.Model(model.input, layer.input).predict(x, batch_size=PREDICT_BATCH, verbose=0)
            axes = tuple(range(inputs.ndim - 1))
            layer.moving_mean.assign(inputs.mean(axis=axes, dtype=np.float64).astype(np.float32))
            layer.moving_variance.assign(inputs.var(axis=axes, dtype=np.float64).astype(np.float32))


def scale_activation_ranges(model: keras.Model, x: np.ndarray, quantile: float) -> None:
    """Scale each 4-bit ReLU's input so its ``quantile`` of positive values sits at the ReLU's max.

    ``cnn2snn.quantize`` turns ReLU(max 6) into 15 steps of 0.4; after BatchNormalization most
    activations lie within 0–2, so they get 5 levels. Layer by layer, in order, each BN's
    statistics are set exactly on ``x`` (the layers before it were rescaled), then its γ and β are
    multiplied by 6 / quantile: the next BN renormalises, so the float function only changes where
    the cap now clips. The spike layer's BN is left alone (its bias is calibrated instead).
    """
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization) or layer.name.startswith(SPIKE_LAYER):
            continue
        inputs = keras.Model(model.input, layer.input).predict(x, batch_size=PREDICT_BATCH, verbose=0)
        axes = tuple(range(inputs.ndim - 1))
        mean, var = inputs.mean(axis=axes, dtype=np.float64), inputs.var(axis=axes, dtype=np.float64)
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(var.astype(np.float32))
        gamma, beta = layer.gamma.numpy().astype(np.float64), layer.beta.numpy().astype(np.float64)
        positive = positive_outputs(inputs, mean, np.sqrt(var + layer.epsilon), gamma, beta)
        del inputs
        if positive.size == 0:
            continue
        scale = RELU_MAX / max(float(np.quantile(positive, quantile, overwrite_input=True)), 1e-6)
        layer.gamma.assign((gamma * scale).astype(np.float32))
        layer.beta.assign((beta * scale).astype(np.float32))
        log.info("%s: %.4g quantile of the ReLU input scaled ×%.2f onto %g", layer.name, quantile, scale, RELU_MAX)
    reestimate_batchnorm(model, x)  # the spike layer's BN, after all the rescaling before it


def positive_outputs(inputs: np.ndarray, mean: np.ndarray, std: np.ndarray, gamma: np.ndarray,
                     beta: np.ndarray, chunk: int = QUANTILE_CHUNK) -> np.ndarray:
    """The BatchNormalization's positive outputs on ``inputs``, in float64, ``chunk`` samples at a time.

    The same values, in the same order, as ``out[out > 0]`` on the whole array, without its float64
    copies of every activation (≈ 0.5 GB of temporaries per layer on 2,048 samples, measured as
    peak RSS 1.87 GB against 1.3 GB without the lever).
    """
    parts = []
    for start in range(0, len(inputs), chunk):
        out = (inputs[start:start + chunk] - mean) / std * gamma + beta
        parts.append(out[out > 0])
    return np.concatenate(parts) if parts else np.zeros(0)


def keras_accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    pred = model.predict(x, batch_size=PREDICT_BATCH, verbose=0)
    return float(np.mean(pred.argmax(axis=-1) == y))


def calibrate_spike_layer(model: keras.Model, x: np.ndarray, firing_target: float) -> None:
    """Shift the folded bias of the 1-bit layer per channel so each neuron fires on
    ``firing_target`` of the samples ``x``.

    A 1-bit ReLU capped at 6 spikes only when its input exceeds 3 (half a step); a short
    training leaves every potential below that, so every spike is 0 and edge learning learns
    nothing (measured). Placing each channel's threshold at its (1 − target) quantile keeps
    the channel's ranking of samples — what training learned — and makes it fire.
    """
    layer = model.get_layer(SPIKE_LAYER)
    threshold = float(model.get_layer(SPIKE_ACTIVATION).threshold.numpy())
    potentials = keras.Model(model.input, layer.output).predict(x, batch_size=PREDICT_BATCH, verbose=0)
    potentials = potentials.reshape(len(x), -1)
    quantile = np.quantile(potentials, 1.0 - firing_target, axis=0)
    bias = layer.bias.numpy()
    layer.bias.assign((bias + threshold - quantile).astype(bias.dtype))


def firing_fraction(model: keras.Model, x: np.ndarray) -> float:
    """Mean fraction of spike-layer neurons firing on ``x`` in the quantized Keras model."""
    spikes = keras.Model(model.input, model.get_layer(SPIKE_ACTIVATION).output).predict(
        x, batch_size=PREDICT_BATCH, verbose=0)
    return float(np.mean(spikes > 0))


def _subset(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    """At most ``n`` samples of ``x``, drawn without replacement with a fixed seed."""
    if len(x) <= n:
        return x
    return x[np.sort(np.random.default_rng(seed).choice(len(x), n, replace=False))]


@dataclass(frozen=True)
class TrainedExtractor:
    """The converted full model (classifier still on) and its Keras accuracies; the stage scores the Akida
    model on the spikes it computes anyway (:mod:`edgetune.extractor.classifier`)."""

    akida_model: object
    float_accuracy: float
    quantized_accuracy: float


def train_dscnn_edge(ds: KwsDataset, p: ExtractorParams, curves: Curves | None = None) -> TrainedExtractor:
    """Float training → quantize → calibrate → QAT → recalibrate → convert (DESIGN.md §4)."""
    seed_everything(p.seed)
    with set_akida_version(AkidaVersion.v1):
        model = build_dscnn_edge(ds.num_classes, p.conv_filters, p.separable_filters, p.spike_width,
                                 tuple(ds.x_train.shape[1:]))
        t0 = time.perf_counter()
        _fit(model, ds, p, p.epochs, p.learning_rate, "float training", phase=0, curves=curves)
        reestimate_batchnorm(model, _subset(ds.x_train, BN_SAMPLES, p.seed))
        float_acc = keras_accuracy(model, ds.x_val, ds.y_val)
        log.info("float model: val accuracy %.4f (%.0f s)", float_acc, time.perf_counter() - t0)
        if p.activation_quantile:
            scale_activation_ranges(model, _subset(ds.x_train, BN_SAMPLES, p.seed), p.activation_quantile)

        quantized = quantize(model, weight_quantization=4, activ_quantization=4, input_weight_quantization=8)
        quantized = quantize_layer(quantized, SPIKE_ACTIVATION, bitwidth=1)
        calibrate_spike_layer(quantized, ds.x_train, p.firing_target)
        # Only the figures the stage writes are scored: an evaluation for a log line costs a pass over
        # the validation split (≈ 4 s each on 2 cores, with 8,250 samples).
        log.info("quantized 8/4/4, the 1-bit spikes calibrated to fire on %.0f %% of the training samples",
                 100 * p.firing_target)

        t0 = time.perf_counter()
        _fit(quantized, ds, p, p.qat_epochs, p.qat_learning_rate, "quantization-aware", phase=1, curves=curves,
             teacher=model if p.distillation else None)
        calibrate_spike_layer(quantized, ds.x_train, p.firing_target)
        quantized_acc = keras_accuracy(quantized, ds.x_val, ds.y_val)
        log.info("fine-tuned and recalibrated: val accuracy %.4f (%.0f s)", quantized_acc, time.perf_counter() - t0)

        try:
            ak_model = convert(quantized)
        except Exception as exc:  # the toolchain's refusal, in one line
            raise EdgetuneError(f"cnn2snn.convert refused the DS-CNN-edge: {exc}") from None
    return TrainedExtractor(ak_model, float_acc, quantized_acc)
