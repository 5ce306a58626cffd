"""BrainChip's pretrained DS-CNN-edge (Akida 1.0), downloaded and converted as the tutorial does.

What akida_models 1.14.2's ``ds_cnn_kws_pretrained()`` does in the Akida 1.0 context, in two
steps done here instead of installing akida-models (its dependencies add 1 GB: opencv, librosa,
tensorflow-datasets…; with ``--no-deps`` its package ``__init__`` fails to import): fetch the
quantized Keras ``.h5`` from ``extractor.url`` (BrainChip's file by default,
:data:`edgetune.params.extractor.BRAINCHIP_MODEL_URL`), checked against ``extractor.sha256`` and kept in
edgetune's download cache (never Keras's ``~/.keras``), then ``cnn2snn.load_quantized_model``
and ``cnn2snn.convert`` with the tutorial's ``input_scaling=(255, 0)`` unless the model starts
with its own Rescaling layer. A mirror or a proxy is a change of ``extractor.url``, not of code.
"""

from __future__ import annotations

import logging
from pathlib import Path

from edgetune import download
from edgetune.errors import EdgetuneError
from edgetune.logs import import_tensorflow_quietly

log = logging.getLogger(__name__)

INPUT_SCALING = (255, 0)  # the tutorial's convert(model, input_scaling=(255, 0))


def offline_fix(url: str) -> str:
    return (f"this source needs the network — or put the file at {download.cached_path(url)} "
            f"(${download.CACHE_ENV} sets the folder), or use extractor.source: train")


def _has_rescaling(keras_model) -> bool:
    import tf_keras as keras

    return any(isinstance(layer, keras.layers.Rescaling) for layer in keras_model.layers[:2])


def convert_pretrained(path: Path, url: str):
    """The downloaded ``.h5`` as a full Akida model (classifier still on); one line if it is not usable."""
    import_tensorflow_quietly()
    from cnn2snn import AkidaVersion, convert, load_quantized_model, set_akida_version

    with set_akida_version(AkidaVersion.v1):
        try:
            keras_model = load_quantized_model(str(path))
        except Exception as exc:  # h5py/Keras raise many types on a file that is not a Keras model
            raise EdgetuneError(f"extractor.url: {url} is not a loadable Keras model ({type(exc).__name__}: "
                                f"{exc}); extractor.url must give a quantized Keras .h5") from None
        try:
            return convert(keras_model, input_scaling=None if _has_rescaling(keras_model) else INPUT_SCALING)
        except Exception as exc:  # cnn2snn's refusal (e.g. a float model), in one line
            raise EdgetuneError(f"extractor.url: {url} could not be converted to Akida ({type(exc).__name__}: "
                                f"{exc}); extractor.url must give a quantized Keras .h5 for Akida 1.0 "
                                "(cnn2snn.quantize), or use extractor.source: train") from None


def load(url: str, sha256: str):
    """Download (or take from the cache) and convert; a file that does not convert leaves the cache."""
    path = download.fetch(url, sha256, "extractor", offline_fix(url), log)
    try:
        model = convert_pretrained(path, url)
    except EdgetuneError:
        download.forget(path, log)
        raise
    download.warn_unpinned(sha256, "extractor", url, path, log)
    return model
