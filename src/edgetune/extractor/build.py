"""The extractor stage: an Akida model that turns the dataset's MFCC into binary spikes.

Three sources (``extractor.source``):

- ``train`` (default): the tutorial's DS-CNN-edge trained here on the dataset (:mod:`edgetune.extractor.dscnn`);
- ``brainchip``: BrainChip's pretrained ``ds_cnn_kws`` (Akida 1.0, 4-bit, 1-bit last activation),
  as in the tutorial, from ``extractor.url`` (:mod:`edgetune.extractor.brainchip_model`) — needs the network once;
- ``file``: the user's Akida ``.fbz`` or quantized Keras ``.h5`` (converted here).

Whatever the source, the result must take (49, 10, 1) uint8 inputs and return a (1, 1, D) map of
0/1 spikes that are neither all 0 nor all 1 on the validation split: the later stages (and Akida
edge learning) need exactly that, so a model that fails is refused here with one clear line.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import akida
import numpy as np

from edgetune import paths
from edgetune.atomic import atomic_path, write_json
from edgetune.confusion import write_confusion_csv
from edgetune.extractor.curves import Curves, training_curves
from edgetune.dataset import KwsDataset, load_dataset
from edgetune.errors import EdgetuneError
from edgetune.extractor.check import check_spikes
from edgetune.extractor.classifier import predict_classes, split_classifier
from edgetune.extractor.identity import identity
from edgetune.logs import import_tensorflow_quietly
from edgetune.mapping import map_extractor
from edgetune.params import ExtractorParams, load_params
from edgetune.timing import time_metrics_path
from edgetune.voice_groups import voice_group

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Extractor:
    """The spike extractor (classifier removed), and the removed classifier when its accuracy can be scored."""

    model: akida.Model
    float_accuracy: float | None = None
    quantized_accuracy: float | None = None
    classifier: akida.Model | None = None  # the full model's last layer, on the spikes (see classifier.py)
    train_seconds: float | None = None


def from_training(ds: KwsDataset, params: ExtractorParams, curves: Curves | None = None) -> Extractor:
    import_tensorflow_quietly()
    from edgetune.extractor import dscnn

    t0 = time.perf_counter()
    trained = dscnn.train_dscnn_edge(ds, params, curves)
    seconds = time.perf_counter() - t0
    model = trained.akida_model
    log.info("Akida summary of the full model (the classifier is removed next):\n%s", akida_summary(model))
    classifier = split_classifier(model, f"extractor.source = '{params.source}'")
    return Extractor(model, trained.float_accuracy, trained.quantized_accuracy, classifier, seconds)


def from_brainchip(ds: KwsDataset, params: ExtractorParams) -> Extractor:
    """BrainChip's pretrained model from ``extractor.url`` (:mod:`edgetune.extractor.brainchip_model`), classifier removed."""
    from edgetune.extractor import brainchip_model

    model = brainchip_model.load(params.url, params.sha256)
    log.info("Akida summary of BrainChip's model (the classifier is removed next):\n%s", akida_summary(model))
    # BrainChip's labels are its word_to_index: comparable only on BrainChip's own dataset.
    if ds.meta.get("source") == "brainchip" and model.output_shape[-1] == ds.num_classes:
        return Extractor(model, classifier=split_classifier(model, f"extractor.url = '{params.url}'"))
    log.info("dataset is not BrainChip's (its labels differ): no accuracy for the pretrained classifier")
    model.pop_layer()
    return Extractor(model)


def from_file(path: Path) -> Extractor:
    """The user's Akida ``.fbz``, or a quantized Keras ``.h5`` converted with cnn2snn."""
    where = f"extractor.path = '{path}'"
    if not path.is_file():
        raise EdgetuneError(f"{where}: file not found; give the path (from the repository root) of an Akida "
                            ".fbz or a quantized Keras .h5")
    suffix = path.suffix.lower()
    if suffix == ".fbz":
        try:
            return Extractor(akida.Model(str(path)))
        except Exception as exc:  # akida raises plain RuntimeError/ValueError on a bad file
            raise EdgetuneError(f"{where}: not a readable Akida model ({exc})") from None
    if suffix == ".h5":
        return Extractor(convert_keras_file(path, where))
    raise EdgetuneError(f"{where}: unsupported file type '{suffix}'; give an Akida .fbz or a quantized Keras .h5")


def convert_keras_file(path: Path, where: str) -> akida.Model:
    import_tensorflow_quietly()
    from cnn2snn import convert, load_quantized_model
    import quantizeml.layers  # noqa: F401  (registers quantizeml's layers with Keras, for v2 models)

    try:
        keras_model = load_quantized_model(str(path))
    except Exception as exc:
        raise EdgetuneError(f"{where}: not a loadable Keras model ({exc})") from None
    try:
        return convert(keras_model)
    except Exception as exc:
        raise EdgetuneError(f"{where}: cnn2snn.convert refused it ({exc}); the .h5 must be quantized "
                            "(cnn2snn.quantize or quantizeml) and Akida-compatible") from None


def akida_summary(model: akida.Model) -> str:
    """``Model.summary()`` prints; capture it so it goes to the log with the rest."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        model.summary()
    return buffer.getvalue().rstrip()


def spike_statistics(spikes: np.ndarray) -> dict:
    per_sample = spikes.sum(axis=1)
    per_neuron = spikes.mean(axis=0)
    return {
        "spike_width": int(spikes.shape[1]),
        "val_median_spikes": float(np.median(per_sample)),
        "mean_spikes": round(float(per_sample.mean()), 3),
        "firing_fraction": round(float(spikes.mean()), 4),
        "neurons_never_firing": int(np.sum(per_neuron == 0)),
        "neurons_always_firing": int(np.sum(per_neuron == 1)),
        "val_spike_samples": int(len(spikes)),
    }


def accuracy_by_voice(speakers: np.ndarray, correct: np.ndarray) -> dict:
    """Validation accuracy and sample count per voice group (the headline mean hides who is held out)."""
    groups = np.array([voice_group(s) for s in speakers])
    return {g: {"accuracy": round(float(correct[groups == g].mean()), 4), "samples": int(np.sum(groups == g))}
            for g in sorted(set(groups.tolist()))}


def build_extractor(ds: KwsDataset, params: ExtractorParams, curves: Curves | None = None) -> Extractor:
    if params.source == "train":
        return from_training(ds, params, curves)
    if params.source == "brainchip":
        return from_brainchip(ds, params)
    return from_file(Path(params.path))


def run(params_path: str | Path = paths.PARAMS, data_path: str | Path = paths.DATASET,
        model_path: str | Path = paths.EXTRACTOR, metrics_path: str | Path = paths.EXTRACTOR_METRICS,
        curves_dir: str | Path | None = None, confusion_path: str | Path | None = None,
        identity_path: str | Path | None = None) -> dict:
    """Build, check and save the extractor. The curves, the confusion CSV and the identity record
    default to their places beside ``metrics/`` (``dvclive/``, ``plots/confusion/extractor.csv``,
    ``results/extractor_identity.json`` under the same root)."""
    root = Path(metrics_path).parent.parent
    curves_dir = root / paths.DVCLIVE_DIR if curves_dir is None else curves_dir
    confusion_path = root / paths.EXTRACTOR_CONFUSION if confusion_path is None else confusion_path
    identity_path = root / paths.EXTRACTOR_IDENTITY if identity_path is None else identity_path
    params = load_params(params_path).extractor
    ds = load_dataset(data_path)
    log.info("source %s; dataset %s: %d train, %d val, %d classes", params.source, data_path,
             len(ds.x_train), len(ds.x_val), ds.num_classes)
    with training_curves(curves_dir) as curves:  # DVCLive: per-epoch loss/accuracy (empty unless trained)
        extractor = build_extractor(ds, params, curves)
    origin = f"extractor.source = '{params.source}'" + (f", path '{params.path}'" if params.source == "file" else "")
    log.info("Akida summary of the extractor:\n%s", akida_summary(extractor.model))
    spikes = check_spikes(extractor.model, ds.x_val, origin, data_path)
    predictions = None if extractor.classifier is None else predict_classes(extractor.classifier, spikes)
    akida_accuracy = None if predictions is None else float(np.mean(predictions == ds.y_val))
    if akida_accuracy is not None:
        log.info("Akida model: val accuracy %.4f", akida_accuracy)
    metrics = {
        "extractor_source": params.source,
        "float_val_accuracy": _rounded(extractor.float_accuracy),
        "quantized_val_accuracy": _rounded(extractor.quantized_accuracy),
        "akida_val_accuracy": _rounded(akida_accuracy),
        **spike_statistics(spikes),
    }
    write_confusion_csv(confusion_path, ds.y_val, predictions, ds.classes)
    if predictions is not None and ds.speaker_val is not None:
        metrics["akida_val_accuracy_by_voice"] = accuracy_by_voice(ds.speaker_val, predictions == ds.y_val)
    with atomic_path(model_path, suffix=".fbz") as tmp:
        extractor.model.save(str(tmp))
    metrics["hardware"] = map_extractor(model_path)  # the saved model alone, on each virtual device
    write_json(identity_path, identity(model_path, data_path, params))
    write_json(metrics_path, metrics)
    write_json(time_metrics_path(metrics_path, "extractor"),
               {"extractor_train_seconds": None if extractor.train_seconds is None else round(extractor.train_seconds, 1)})
    log.info("wrote %s: %d spikes per sample, median %.0f; %d neurons never fire, %d always fire",
             model_path, metrics["spike_width"], metrics["val_median_spikes"], metrics["neurons_never_firing"],
             metrics["neurons_always_firing"])
    return metrics


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)
