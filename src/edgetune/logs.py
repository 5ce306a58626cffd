"""Logging set-up shared by the stages, and TensorFlow's log noise silenced.

TensorFlow prints pages of C++ and absl warnings at import; users of the pipeline want the
stage's own progress, so :func:`quiet_tensorflow` must run before ``import tensorflow``.
"""

from __future__ import annotations

import logging
import os
import warnings


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def quiet_tensorflow() -> None:
    """Silence TensorFlow/absl/keras chatter; call before importing tensorflow, cnn2snn or quantizeml."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(tensorflow|keras|tf_keras|quantizeml|cnn2snn).*")
    for name in ("tensorflow", "absl", "h5py", "keras", "tf_keras"):
        logging.getLogger(name).setLevel(logging.ERROR)
