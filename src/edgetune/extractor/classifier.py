"""The full model's classifier, split off as an Akida model of its own that reads the extractor's spikes.

The stage needs both the extractor's spikes on the validation split (to check them) and the full
model's class for each sample (its accuracy and confusion matrix). The engine's forward pass costs
the same per sample whatever comes out of it (1.7 ms on 2 cores), so scoring the full model and
then forwarding the extractor took two passes over the split. The classifier is one
``FullyConnected`` layer on the 1-bit spikes: the same layer behind an ``InputData`` of the spikes'
shape, with the same variables, predicts the same values (checked in the tests against the full
model read back from its file), so one pass through the extractor serves both.
"""

from __future__ import annotations

import akida
import numpy as np
from akida import FullyConnected, InputData

from edgetune.errors import EdgetuneError

BATCH = 4096  # spikes per forward call: (4096, 1, 1, D) uint8, a few MB


def split_classifier(model: akida.Model, origin: str) -> akida.Model:
    """Remove the full model's last layer (its classifier) and return it as a model of its own."""
    last = model.layers[-1]
    params = last.parameters
    if params.layer_type != akida.LayerType.FullyConnected or params.activation:
        raise EdgetuneError(f"{origin}: the last layer '{last.name}' is a {params.layer_type.name} "
                            f"{'with' if params.activation else 'without'} activation, not the classifier this "
                            "stage removes (a FullyConnected layer giving potentials)")
    name, units, weights_bits = last.name, params.units, params.weights_bits
    variables = {v: last.variables[v] for v in last.variables.names}
    model.pop_layer()
    classifier = akida.Model()
    classifier.add(InputData(input_shape=tuple(int(d) for d in model.output_shape), input_bits=1))
    classifier.add(FullyConnected(name=name, units=units, weights_bits=weights_bits, activation=False))
    for v, value in variables.items():
        classifier.layers[-1].variables[v] = value
    return classifier


def predict_classes(classifier: akida.Model, spikes: np.ndarray) -> np.ndarray:
    """The class of each sample from its (N, D) spikes: the argmax of the engine's ``predict``, the
    potentials rescaled per class (the argmax of the raw potentials of ``forward`` differs)."""
    x = np.ascontiguousarray(spikes, dtype=np.uint8).reshape(len(spikes), 1, 1, -1)
    out = [classifier.predict(x[start:start + BATCH]) for start in range(0, len(x), BATCH)]
    return np.concatenate([o.reshape(len(o), -1).argmax(axis=-1) for o in out]).astype(np.int32)
