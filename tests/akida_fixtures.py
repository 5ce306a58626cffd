"""Small real Akida models for tests that need a feature extractor without training one.

A two-layer Akida 1.0 model — InputConvolutional (8-bit weights, 4-bit activations) then a
FullyConnected with 1-bit activations — takes the dataset's (49, 10, 1) uint8 MFCC and returns
(1, 1, D) binary spikes, like the DS-CNN-edge extractor. Its thresholds are calibrated on sample
inputs so each spike neuron fires on about ``firing`` of them (an uncalibrated layer is all 0 or 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from akida import FullyConnected, InputConvolutional, Model, Padding

INPUT_SHAPE = (49, 10, 1)


def _build(width: int, spike_activation: bool, act_bits: int = 1) -> Model:
    model = Model()
    model.add(InputConvolutional(input_shape=INPUT_SHAPE, kernel_size=(5, 5), kernel_stride=(2, 2), filters=8,
                                 name="conv_0", padding=Padding.Same, weights_bits=8, act_bits=4))
    model.add(FullyConnected(name="spikes", units=width, weights_bits=2, act_bits=act_bits,
                             activation=spike_activation))
    return model


def make_tiny_extractor(path: str | Path | None, x_sample: np.ndarray, width: int = 24, seed: int = 0,
                        firing: float = 0.35, act_bits: int = 1) -> Model:
    """Build, calibrate on ``x_sample`` (uint8 (N, 49, 10, 1)) and optionally save a tiny spike extractor."""
    rng = np.random.default_rng(seed)
    conv_w = rng.integers(-20, 21, (5, 5, 1, 8)).astype(np.int8)
    raw = _build(width, spike_activation=False)
    fc_shape = raw.get_layer("spikes").get_variable("weights").shape
    fc_w = rng.integers(-1, 2, fc_shape).astype(np.int8)

    def load(model: Model) -> Model:
        conv = model.get_layer("conv_0")
        conv.set_variable("weights", conv_w)
        conv.set_variable("threshold", np.zeros(8, np.int32))
        conv.set_variable("act_step", np.full(8, 2000, np.float32))
        model.get_layer("spikes").set_variable("weights", fc_w)
        return model

    potentials = load(raw).forward(x_sample).reshape(len(x_sample), width)
    threshold = np.quantile(potentials, 1 - firing, axis=0).astype(np.int32)
    model = load(_build(width, spike_activation=True, act_bits=act_bits))
    fc = model.get_layer("spikes")
    fc.set_variable("threshold", threshold)
    fc.set_variable("act_step", np.ones(width, np.float32))
    if path is not None:
        model.save(str(path))
    return model
