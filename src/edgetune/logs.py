"""Logging set-up shared by the stages, and TensorFlow's log noise silenced.

TensorFlow prints pages of C++ and absl warnings at import; users of the pipeline want the
stage's own progress, so :func:`quiet_tensorflow` must run before ``import tensorflow``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from typing import Iterator

from edgetune.portable import pin_cpu_arithmetic


def setup_logging(stage: str | None = None, level: int = logging.INFO) -> None:
    """Lines of ``stage``'s run say its name (what a DVC user knows it by), not the module's."""
    where = stage or "%(name)s"
    logging.basicConfig(level=level, format=f"%(asctime)s {where}: %(message)s", datefmt="%H:%M:%S")


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


@contextlib.contextmanager
def stderr_fd_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block (C++ libraries write there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow, tf_keras, cnn2snn and quantizeml quietly, their CPU arithmetic pinned.

    TensorFlow's CUDA plugin registration and XLA write absl messages ("Unable to register cuDNN
    factory", "computation placer already registered") straight to fd 2 at import, whatever
    TF_CPP_MIN_LOG_LEVEL says; only silencing the descriptor during the import hides them.
    """
    quiet_tensorflow()
    pin_cpu_arithmetic()  # before TensorFlow loads: same bytes on every machine
    with stderr_fd_silenced():
        import cnn2snn  # noqa: F401
        import quantizeml  # noqa: F401
        import tensorflow as tf
        import tf_keras  # noqa: F401
    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)


@contextlib.contextmanager
def muted(logger: logging.Logger, level: int = logging.ERROR):
    """Raise a logger's level for a block: a warning already said once is not said again per training."""
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)
