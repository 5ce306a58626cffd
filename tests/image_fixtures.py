"""A user's own data and extractor that are not keyword spotting: small grey images, and an Akida 1.0
image extractor built with cnn2snn whose last layer outputs 1-bit spikes.

Each class is a bright bar at its own angle through a random point of a 28 × 28 image, over noise:
learnable in a few epochs, so the extractor's spikes carry the class. The new classes (few-shot)
are bars at angles between the others'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIDE = 28
SHAPE = (SIDE, SIDE, 1)
WIDTH = 32  # spike neurons


def bars(angle: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` uint8 images (count, 28, 28, 1) of a bar at ``angle`` (radians) over noise."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    out = np.empty((count, SIDE, SIDE, 1), np.uint8)
    for i in range(count):
        cy, cx = rng.uniform(10, 18, size=2)
        distance = np.abs((xx - cx) * np.sin(angle) - (yy - cy) * np.cos(angle))
        image = 200.0 * (distance < 1.5) + rng.normal(30, 12, size=(SIDE, SIDE))
        out[i, ..., 0] = np.clip(image, 0, 255).astype(np.uint8)
    return out


def split(angles: list[float], per_class: tuple[int, int], rng: np.random.Generator) -> list[np.ndarray]:
    """x_train, y_train, x_val, y_val for bars at ``angles``, ``per_class`` = (train, val) images each."""
    out = []
    for count in per_class:
        out.append(np.concatenate([bars(a, count, rng) for a in angles]))
        out.append(np.repeat(np.arange(len(angles), dtype=np.int32), count))
    return out


def save_images(path: Path, classes: int = 6, new_classes: int = 2, per_class: tuple[int, int] = (60, 20),
                seed: int = 0) -> dict[str, np.ndarray]:
    """An .npz in the dataset contract, with ``new_*`` fields for the few-shot stage; returns its arrays."""
    rng = np.random.default_rng(seed)
    angles = [np.pi * k / classes for k in range(classes)]
    x_train, y_train, x_val, y_val = split(angles, per_class, rng)
    new_angles = [np.pi * (k + 0.5) / classes for k in range(new_classes)]
    nx_train, ny_train, nx_val, ny_val = split(new_angles, per_class, rng)
    arrays = dict(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
                  classes=np.array([f"bar{round(np.degrees(a))}" for a in angles]),
                  new_x_train=nx_train, new_y_train=ny_train, new_x_val=nx_val, new_y_val=ny_val,
                  new_classes=np.array([f"bar{round(np.degrees(a))}" for a in new_angles]))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def make_image_extractor(path: Path, x: np.ndarray, y: np.ndarray, num_classes: int, epochs: int = 4) -> None:
    """Train a small CNN, quantize it with cnn2snn (8-bit input weights, 4-bit weights and activations,
    1-bit spike layer), calibrate the spike layer, convert to Akida 1.0, drop the classifier, save ``.fbz``."""
    from edgetune.logs import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tf_keras as keras
    from cnn2snn import AkidaVersion, convert, quantize, quantize_layer, set_akida_version

    from edgetune.extractor import dscnn  # its spike-layer names and calibration

    dscnn.seed_everything(0)
    layers = keras.layers

    def bn_relu(t, name):
        return layers.ReLU(6.0, name=f"{name}/relu")(layers.BatchNormalization(name=f"{name}/BN")(t))

    with set_akida_version(AkidaVersion.v1):
        inputs = layers.Input(shape=SHAPE, dtype="uint8")
        t = layers.Rescaling(1.0 / 255, 0.0)(inputs)
        t = bn_relu(layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="conv_0")(t), "conv_0")
        t = bn_relu(layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="conv_1")(t), "conv_1")
        t = layers.SeparableConv2D(16, 3, padding="same", use_bias=False, name="separable_2")(t)
        t = bn_relu(layers.GlobalAveragePooling2D(name="separable_2/global_avg")(t), "separable_2")
        t = layers.Reshape((1, 1, 16))(t)
        t = layers.SeparableConv2D(WIDTH, 3, padding="same", use_bias=False, name=dscnn.SPIKE_LAYER)(t)
        t = bn_relu(t, dscnn.SPIKE_LAYER)
        t = layers.Dense(num_classes)(layers.Flatten()(t))
        model = keras.Model(inputs, layers.Activation("softmax")(t))
        model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=epochs, shuffle=True, verbose=0)
        dscnn.reestimate_batchnorm(model, x)  # a few epochs leave BatchNorm's moving statistics far from the data's
        quantized = quantize(model, weight_quantization=4, activ_quantization=4, input_weight_quantization=8)
        quantized = quantize_layer(quantized, dscnn.SPIKE_ACTIVATION, bitwidth=1)
        dscnn.calibrate_spike_layer(quantized, x, firing_target=0.3)
        akida_model = convert(quantized)
    akida_model.pop_layer()
    akida_model.save(str(path))
