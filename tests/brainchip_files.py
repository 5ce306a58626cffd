"""BrainChip's two downloads, made by the tests: the KWS pickle and the pretrained v1 DS-CNN-edge `.h5`.

- :func:`brainchip_pickle` — the tutorial's 8-item layout ``[x_train, y_train, x_val, y_val,
  files_train, files_val, word_to_index, data_transform]`` around a learnable fake KWS set, with
  Speech Commands file names ``<word>/<speaker>_nohash_<n>.wav``.
- :class:`RunsCode` — an item that would run a shell command if a plain ``pickle.load`` read it.
- :func:`pretrained_v1_h5` — a quantized Keras model with the architecture of BrainChip's
  ``ds_cnn_kws_iq8_wq4_aq4_laq1.h5`` (DESIGN.md §4): built in the Akida 1.0 context, conv_0 (64,
  5×5, stride 2) → separable_1..4 (64, 3×3), global average pooling in separable_4 → dense_5 →
  softmax; quantized 8/4/4 with a 1-bit ReLU on separable_4 (64 spikes). Not trained: the
  BatchNorm statistics are set from the data and the 1-bit layer's bias is calibrated so each
  spike fires on about a third of the samples — enough for the conversion and the pipeline,
  which need spikes that are neither all 0 nor all 1, not accuracy. Like the tutorial's call, it
  takes float MFCC without a Rescaling layer: ``convert(model, input_scaling=(255, 0))`` scales.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from fake_kws import make_fake_kws

SPIKE_LAYER = "separable_4"
WIDTH = 64  # BrainChip's v1 extractor: 64 spikes


def brainchip_list(num_classes: int = 4, train_per_class: int = 40, val_per_class: int = 10, seed: int = 0) -> list:
    """The tutorial's 8-item list; word 0 is ``_silence_`` as in BrainChip's word_to_index."""
    ds = make_fake_kws(num_classes=num_classes, train_per_class=train_per_class, val_per_class=val_per_class,
                       seed=seed)
    words = ["_silence_", *[f"word{i}" for i in range(1, num_classes)]]

    def names(y: np.ndarray, prefix: str) -> list[str]:
        return [f"{words[label]}/{prefix}{i % 5:02d}ab_nohash_{i}.wav" for i, label in enumerate(y)]

    return [ds.x_train, ds.y_train, ds.x_val, ds.y_val, names(ds.y_train, "tr"), names(ds.y_val, "va"),
            {word: label for label, word in enumerate(words)}, {"sample_rate": 16000, "mfcc": 10}]


def brainchip_pickle(path: Path, **kwargs) -> Path:
    path.write_bytes(pickle.dumps(brainchip_list(**kwargs), protocol=4))
    return path


class RunsCode:
    """A pickle that would run a shell command when loaded by plain ``pickle.load``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _float_model(num_classes: int, rescaling: bool):
    import tf_keras as keras

    layers = keras.layers

    def block(x, name, conv, global_avg=False):
        x = conv(x)
        if global_avg:
            x = layers.GlobalAveragePooling2D(name=f"{name}/global_avg")(x)
        x = layers.BatchNormalization(name=f"{name}/BN")(x)
        return layers.ReLU(6.0, name=f"{name}/relu")(x)

    inputs = layers.Input(shape=(49, 10, 1), name="input")
    x = layers.Rescaling(1 / 255, 0.0, name="rescaling")(inputs) if rescaling else inputs
    x = block(x, "conv_0", layers.Conv2D(64, (5, 5), strides=2, padding="same", use_bias=False, name="conv_0"))
    for i in range(1, 5):
        name = f"separable_{i}"
        x = block(x, name, layers.SeparableConv2D(64, (3, 3), padding="same", use_bias=False, name=name),
                  global_avg=name == SPIKE_LAYER)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(num_classes, name="dense_5")(x)
    return keras.Model(inputs, layers.Activation("softmax", name="act_softmax")(x), name="ds_cnn_kws")


def pretrained_v1_h5(path: Path, x_uint8: np.ndarray, num_classes: int, quantized: bool = True,
                     rescaling: bool = False, firing_target: float = 0.35) -> Path:
    """Save BrainChip's v1 DS-CNN-edge architecture as an ``.h5`` (quantized unless told otherwise).

    ``rescaling``: the model takes uint8 MFCC through its own Rescaling(1/255) layer (akida_models'
    later layout) instead of floats in [0, 1] with the scaling given to ``convert``.
    """
    from edgetune.logs import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tf_keras as keras
    from cnn2snn import AkidaVersion, quantize, quantize_layer, set_akida_version

    from edgetune.extractor.dscnn import reestimate_batchnorm, seed_everything

    seed_everything(0)
    x = x_uint8 if rescaling else x_uint8.astype(np.float32) / 255.0  # else Akida gets uint8 and (255, 0)
    with set_akida_version(AkidaVersion.v1):
        model = _float_model(num_classes, rescaling)
        reestimate_batchnorm(model, x)
        if quantized:
            model = quantize(model, weight_quantization=4, activ_quantization=4, input_weight_quantization=8)
            model = quantize_layer(model, f"{SPIKE_LAYER}/relu", bitwidth=1)
            relu = model.get_layer(f"{SPIKE_LAYER}/relu")
            potentials = keras.Model(model.input, relu.input).predict(x, verbose=0).reshape(len(x), -1)
            layer = model.get_layer(SPIKE_LAYER)
            shift = float(relu.threshold.numpy()) - np.quantile(potentials, 1.0 - firing_target, axis=0)
            layer.bias.assign((layer.bias.numpy() + shift).astype(np.float32))
        model.save(path)
    return path
