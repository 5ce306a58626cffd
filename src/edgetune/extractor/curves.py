"""The extractor's training curves, logged with DVCLive: loss and accuracy per epoch.

Metric names are ``<quantity>/<phase>_<split>`` — ``loss/float_train``, ``accuracy/qat_val`` … —
so DVCLive writes one history file per curve, ``dvclive/plots/metrics/loss/float_train.tsv``
(columns ``step`` and the curve), drawn by the ``extractor_*`` plots of dvc.yaml, and the last
value of each in ``dvclive/metrics.json``, which ``dvc exp show`` summarises. Steps count epochs
across both phases (float 0…E−1, then quantization-aware E…E+Q−1).

Every file DVCLive writes here is a tracked output, so it must be the same bytes for the same
params: no timestamps (``log_metric(timestamp=False)``, DVCLive's default, kept explicit), no
``dvc.yaml`` of its own (``dvcyaml=None``: the project's dvc.yaml declares these outputs), no
report, no experiment saved at the end (``save_dvc_exp=False``: ``dvc repro`` must not touch git),
no system monitoring. The final accuracies of the models stay in metrics/extractor.json: the
curves hold the per-epoch training figures only, nothing is written twice.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from edgetune import paths
from edgetune.atomic import write_text

NO_CURVES = "no-curves.txt"  # dvclive/plots/ is a DVC output: it must exist, curves or not
# DVCLive reads these: no Studio posting, no anonymous usage report from inside a stage.
_QUIET_ENV = {"DVCLIVE_LOGLEVEL": "WARNING", "DVC_NO_ANALYTICS": "1"}


def curve_name(quantity: str, phase: str, split: str) -> str:
    return f"{quantity}/{phase}_{split}"


class Curves:
    """A DVCLive run whose steps are epochs; ``log_epoch`` records one epoch of one phase."""

    def __init__(self, live):
        self.live = live

    def log_epoch(self, phase: str, logs: dict) -> None:
        for key, value in sorted(logs.items()):
            split, quantity = ("val", key[4:]) if key.startswith("val_") else ("train", key)
            if quantity in ("loss", "accuracy"):
                self.live.log_metric(curve_name(quantity, phase, split), round(float(value), 6), timestamp=False)
        self.live.next_step()


@contextlib.contextmanager
def training_curves(directory: str | os.PathLike = paths.DVCLIVE_DIR) -> Iterator[Curves]:
    """Open a fresh DVCLive run in ``directory`` (previous files removed); its summary is written on exit."""
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    live = _file_logger()(dir=str(Path(directory)), resume=False, report=None, save_dvc_exp=False, dvcyaml=None,
                monitor_system=False)
    try:
        yield Curves(live)
    finally:
        live.make_summary()  # also when nothing was trained: an empty summary, so the output exists
        live.end()
        plots = Path(live.plots_dir)
        if not (plots / "metrics").is_dir():  # nothing trained: say so where the curves would be
            write_text(plots / NO_CURVES, "the extractor was not trained here (extractor.source is not 'train'): "
                       "no training curves\n")


def _file_logger():
    """DVCLive's ``Live`` without its DVC/git integration: it logs files, dvc.yaml tracks them.

    Out of the box, ``Live()`` looks for a DVC repository and, in a git repository without one,
    runs ``dvc init`` (measured); inside ``dvc exp run`` it stages its directory in git at the end,
    and in a git repository with no commit yet it raises. None of that belongs in a stage: the
    pipeline already declares these files as outputs. Checked by tests/test_curves.py.
    """
    from dvclive import Live

    class FileLive(Live):
        def _init_dvc(self):  # noqa: D401 — DVCLive 3.49's hook (dvclive is pinned)
            self._dvc_repo = None
            self._save_dvc_exp = False

    return FileLive


def keras_callback(curves: Curves | None, phase: str):
    """A tf_keras callback sending each epoch's logs to ``curves`` (import after TensorFlow is set up)."""
    import tf_keras as keras

    class LogEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if curves is not None:
                curves.log_epoch(phase, logs or {})

    return LogEpochs()
