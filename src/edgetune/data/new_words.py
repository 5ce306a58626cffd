"""The few-shot new words (``data/new_words.npz``): 'backward', 'follow', 'forward', kept apart.

BrainChip's KWS edge tutorial trains its edge layer on 32 words + silence, then adds three words
the extractor never heard. Here they live in a file of their own, written by the
``fetch-new-words`` stage, so that nothing the extractor or the 33-class layer trains on can hold
them, and so that ``data/kws.npz`` stays byte-identical whether they are made or not.

* ``synthetic``: the same engines, voices and voice-disjoint split as ``data/kws.npz`` (the split
  is drawn from ``data.seed`` and the engines only); each clip's seed holds its word's own index
  among the Speech Commands words, so the dataset's random streams are untouched. The MFCC are
  scaled to uint8 with the dataset's own range (its ``meta.uint8``), as the dataset itself was.
* ``file`` (.npz): optional fields of the dataset contract ``new_x_train``, ``new_y_train``,
  ``new_x_val``, ``new_y_val``, ``new_classes`` (and ``new_speaker_train``/``new_speaker_val``).
* ``brainchip``, a ``.pkl``, or a file without those fields: there are no new words. The file then
  holds only the reason, the ``fewshot`` stage reports it, and the rest of the pipeline runs.

The new words file follows the dataset contract (labels 0..len(classes)-1 index its own classes).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from edgetune import paths
from edgetune.data import mfcc
from edgetune.atomic import save_npz, write_json
from edgetune.dataset import KwsDataset, load_dataset, save_dataset, validate
from edgetune.errors import EdgetuneError
from edgetune.params import DataParams, load_params
from edgetune.vocabulary import NEW_WORDS
from edgetune.timing import time_metrics_path

log = logging.getLogger(__name__)

FILE_FIELDS = ("new_x_train", "new_y_train", "new_x_val", "new_y_val", "new_classes")
NO_NEW_WORDS = ("the fewshot stage needs the new words: use data.source synthetic, or data.source file with an "
                ".npz holding the optional fields " + ", ".join(FILE_FIELDS))


def synthetic_new_words(params: DataParams, dataset: KwsDataset) -> KwsDataset:
    """The new words (those of NEW_WORDS not already in the dataset), spoken like the dataset."""
    from edgetune.data import synthetic, tts  # the engines are only needed here

    words = [w for w in NEW_WORDS if w not in set(dataset.classes.tolist())]
    uint8 = dataset.meta.get("uint8") or {}
    if len(words) < 2 or "low" not in uint8:
        raise EdgetuneError(f"data.words holds {sorted(set(NEW_WORDS) - set(words))}: the new words must be at "
                            f"least two of {list(NEW_WORDS)} left out of data.words")
    versions = tts.check_engines(list(params.engines))
    the_plan = synthetic.plan(params, classes=words)
    features = synthetic.synthesise(the_plan, params)
    low, high = np.asarray(uint8["low"], np.float64), np.asarray(uint8["high"], np.float64)
    split = {s: [c for c in the_plan.clips if c.split == s] for s in synthetic.SPLITS}
    meta = {"source": "synthetic", "engines": versions, "speakers": the_plan.speakers,
            "generator": dataset.meta.get("generator"), "uint8": "the dataset's (data/kws.npz meta.uint8)"}
    return KwsDataset(
        x_train=mfcc.to_uint8(features["train"], low, high)[..., None],
        y_train=np.array([c.label for c in split["train"]], np.int32),
        x_val=mfcc.to_uint8(features["val"], low, high)[..., None],
        y_val=np.array([c.label for c in split["val"]], np.int32),
        classes=np.array(words), meta=meta,
        speaker_train=np.array([c.voice.speaker for c in split["train"]]),
        speaker_val=np.array([c.voice.speaker for c in split["val"]]),
    )


def file_new_words(path: Path) -> KwsDataset | str:
    """The optional ``new_*`` fields of the user's .npz, or why there are none."""
    if path.suffix.lower() != ".npz":
        return f"data.path = {str(path)!r} is a BrainChip-format pickle, which has no new words; " + NO_NEW_WORDS
    with np.load(path, allow_pickle=False) as f:
        present = [k for k in FILE_FIELDS if k in f.files]
        if not present:
            return (f"data.path = {str(path)!r} has no new classes to learn with k shots (the optional fields "
                    f"{', '.join(FILE_FIELDS)})")
        missing = [k for k in FILE_FIELDS if k not in f.files]
        if missing:
            raise EdgetuneError(f"{path}: new-class field(s) {missing} missing; the new classes need all of {list(FILE_FIELDS)}")
        arrays = {k: f[k] for k in f.files if k.startswith("new_")}
    ds = KwsDataset(arrays["new_x_train"], arrays["new_y_train"], arrays["new_x_val"], arrays["new_y_val"],
                    arrays["new_classes"], arrays.get("new_speaker_train"), arrays.get("new_speaker_val"),
                    {"source": "file", "path": str(path)})
    return validate(ds, f"{path} (new_* fields)")


def make_new_words(params: DataParams, dataset: KwsDataset) -> KwsDataset | str:
    if params.source == "synthetic":
        return synthetic_new_words(params, dataset)
    if params.source == "file":
        return file_new_words(Path(params.path))
    return ("data.source brainchip: BrainChip's pickle leaves out 'backward', 'follow' and 'forward'; " + NO_NEW_WORDS)


def check_apart(new: KwsDataset, dataset: KwsDataset) -> None:
    """No new word is a class of the dataset, no new-word sample is among its training samples, and
    the new samples have the dataset's shape (the one extractor forwards both)."""
    if new.x_train.shape[1:] != dataset.x_train.shape[1:]:
        raise EdgetuneError(f"new classes' samples are {new.x_train.shape[1:]}, the dataset's "
                            f"{dataset.x_train.shape[1:]}; the new_* samples must have the shape of x_train")
    shared = sorted(set(new.classes.tolist()) & set(dataset.classes.tolist()))
    if shared:
        raise EdgetuneError(f"new words {shared} are also classes of the dataset; a new word must be one the "
                            "extractor and the edge layer never trained on")
    train = {row.tobytes() for row in dataset.x_train}
    leaked = sum(row.tobytes() in train for split in (new.x_train, new.x_val) for row in split)
    if leaked:
        raise EdgetuneError(f"{leaked} new-word sample(s) are also in the dataset's training set; keep them apart")


def save_new_words(path: str | Path, new: KwsDataset | str) -> None:
    """The new words in the dataset contract, or (no new words) only the reason."""
    if isinstance(new, str):
        save_npz(path, reason=np.array(new))
    else:
        save_dataset(path, new)


def load_new_words(path: str | Path = paths.NEW_WORDS) -> KwsDataset | str:
    """The new words, or the reason there are none."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            if "reason" in f.files:
                return str(f["reason"])
    except FileNotFoundError:
        raise EdgetuneError(f"{path}: not found; run the fetch-new-words stage first (dvc repro fetch-new-words)") from None
    return load_dataset(path)


def new_words_metrics(new: KwsDataset | str) -> dict:
    if isinstance(new, str):
        return {"available": False, "reason": new}
    counts = {s: {str(w): int(np.sum(getattr(new, f"y_{s}") == i)) for i, w in enumerate(new.classes)}
              for s in ("train", "val")}
    voices = {s: (None if getattr(new, f"speaker_{s}") is None else len(set(getattr(new, f"speaker_{s}").tolist())))
              for s in ("train", "val")}
    return {"available": True, "source": new.meta.get("source"), "words": new.classes.tolist(), "counts": counts,
            "voices": voices}


def run(params_path: str | Path = paths.PARAMS, dataset_path: Path = paths.DATASET, out_path: Path = paths.NEW_WORDS,
        metrics_path: Path = paths.NEW_WORDS_METRICS) -> dict:
    params = load_params(params_path).data
    dataset = load_dataset(dataset_path)
    start = time.perf_counter()
    new = make_new_words(params, dataset)
    if isinstance(new, str):
        log.warning("no new words: %s", new)
    else:
        check_apart(new, dataset)
    seconds = time.perf_counter() - start
    save_new_words(out_path, new)
    metrics = new_words_metrics(new)
    write_json(metrics_path, {"new_words": metrics})  # one top key: its names are unique among metrics files
    write_json(time_metrics_path(metrics_path, "new_words"), {"new_words_seconds": round(seconds, 1)})
    if not isinstance(new, str):
        log.info("%s: %s, %d train / %d val samples, %.1f s", out_path, ", ".join(metrics["words"]),
                 len(new.y_train), len(new.y_val), seconds)
    return metrics
