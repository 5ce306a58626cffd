"""What every later stage needs of an extractor, checked in one place: one message per fault.

The extractor stage checks the model it makes; the spikes, table-train and fewshot stages
check the ``models/extractor.fbz`` they read. Each fault is named the same way wherever it is
found, so a user meets one sentence for one problem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgetune.errors import EdgetuneError
from edgetune.mapping import load_model  # missing or unreadable file: its two messages

CHECK_SAMPLES = 32  # samples forwarded first, to refuse a wrong model before the full pass
FORWARD_BATCH = 1024  # keeps the forward's memory bounded on large datasets


def _layer_param(layer, name: str):
    """A layer parameter, or None if this layer type has no such parameter (akida raises ValueError)."""
    params = layer.parameters
    return getattr(params, name) if name in dir(params) else None


def check_input(model, origin: str | Path, sample_shape: tuple[int, ...], data: str | Path) -> None:
    """Refuse a model that does not take the dataset's samples: one line naming both shapes."""
    input_shape = tuple(int(v) for v in model.input_shape)
    if input_shape != tuple(sample_shape):
        raise EdgetuneError(f"{origin}: the model takes inputs of shape {input_shape}, but the samples of {data} are "
                            f"{tuple(sample_shape)}; give an extractor built for those samples, or data of its "
                            "input shape")


def check_shapes(model, origin: str | Path) -> int:
    """The spike width D; refuse a model that cannot map its input to (1, 1, D) 1-bit spikes."""
    output_shape = tuple(int(v) for v in model.output_shape)
    if len(output_shape) != 3 or output_shape[:2] != (1, 1) or output_shape[2] < 1:
        raise EdgetuneError(f"{origin}: the model's output shape is {output_shape}, expected (1, 1, D) spikes; "
                            "the extractor must end with a 1×1 map (global pooling before its last layer)")
    last = model.layers[-1]
    if _layer_param(last, "activation") in (False, 0):
        raise EdgetuneError(f"{origin}: last layer '{last.name}' has no activation, so it outputs potentials, not "
                            "spikes; pop the classifier (model.pop_layer()) so the extractor ends with its 1-bit "
                            "activation layer")
    # Akida 1.0 layers call their activation bitwidth act_bits, Akida 2.0 layers output_bits
    bits = _layer_param(last, "act_bits") or _layer_param(last, "output_bits")
    if bits is not None and bits != 1:
        raise EdgetuneError(f"{origin}: last layer '{last.name}' has {bits}-bit activations; edge learning needs "
                            "binary spikes (quantize that layer's activation to 1 bit before converting)")
    return output_shape[2]


def refuse_non_binary(spikes: np.ndarray, origin: str | Path, where: str) -> None:
    """Refuse outputs other than 0/1 (``where``: which samples, for the message)."""
    if spikes.size and not np.isin(np.unique(spikes), (0, 1)).all():
        raise EdgetuneError(
            f"{origin}: the output is not binary (values {spikes.min()}..{spikes.max()} on {where}); the "
            "extractor's last layer must have 1-bit activations — if the model still ends with its "
            "classifier, remove it (akida Model.pop_layer())")


def load_extractor(path: str | Path, width: int | None = None, samples: tuple[tuple[int, ...], str | Path] | None = None):
    """``models/extractor.fbz``, checked; with ``width``, also that it outputs the spikes' width; with
    ``samples`` (a sample shape and the file it is from), that it takes them."""
    model = load_model(path)
    if samples is not None:
        check_input(model, path, *samples)
    found = check_shapes(model, path)
    if width is not None and found != width:
        raise EdgetuneError(f"{path}: outputs (1, 1, {found}) but the spikes are {width} wide; the spikes are "
                            "stale, rerun dvc repro spikes")
    return model


def forward_spikes(model, x: np.ndarray, origin: str) -> np.ndarray:
    """Forward ``x`` in batches; the spikes as an (N, D) array."""
    outputs = []
    for start in range(0, len(x), FORWARD_BATCH):
        try:
            out = model.forward(x[start:start + FORWARD_BATCH])
        except Exception as exc:
            raise EdgetuneError(f"{origin}: the Akida model failed on the dataset's samples ({exc})") from None
        outputs.append(np.asarray(out).reshape(len(out), -1))
    return np.concatenate(outputs)


def check_spikes(model, x_val: np.ndarray, origin: str, data: str | Path = "the dataset") -> np.ndarray:
    """Refuse a model the edge layer cannot use; return its spikes on ``x_val`` as uint8 (N, D).

    First whether it takes the samples of ``data`` (before any work), then the shapes, binary on a
    few samples (a wrong model fails fast), then on all, and neither all 0 nor all 1 (spikes that
    carry no information).
    """
    check_input(model, origin, x_val.shape[1:], data)
    check_shapes(model, origin)
    first = min(CHECK_SAMPLES, len(x_val))
    refuse_non_binary(forward_spikes(model, x_val[:first], origin), origin, f"{first} samples")
    spikes = forward_spikes(model, x_val, origin)
    refuse_non_binary(spikes, origin, f"{len(x_val)} samples")
    if not spikes.any():
        raise EdgetuneError(f"{origin}: every spike is 0 on the {len(x_val)} validation samples, so edge learning "
                            "would learn nothing; the 1-bit layer needs calibrating (source train: more epochs "
                            "or a higher extractor.firing_target)")
    if spikes.all():
        raise EdgetuneError(f"{origin}: every spike is 1 on the {len(x_val)} validation samples, so spikes carry "
                            "no information; the 1-bit layer needs calibrating (source train: a lower "
                            "extractor.firing_target)")
    return spikes.astype(np.uint8)
