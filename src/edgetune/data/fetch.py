"""The fetch stage: make ``data/kws.npz`` (the dataset contract) and ``metrics/data.json``.

``data.source`` picks where the data comes from: ``synthetic`` (offline TTS, the default),
``brainchip`` (the tutorial's pickle, downloaded) or ``file`` (the user's .npz or BrainChip-format
pickle). Every source goes through the same contract validation before anything is written.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from edgetune import paths
from edgetune import download
from edgetune.data import brainchip_data
from edgetune.data.augment import SNR_DB
from edgetune.atomic import write_json
from edgetune.dataset import MFCC_SHAPE, KwsDataset, load_dataset, save_dataset, validate
from edgetune.errors import EdgetuneError
from edgetune.params import DataParams, load_params
from edgetune.timing import time_metrics_path
from edgetune.voice_groups import voice_group

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".pkl", ".pickle")
OFFLINE_FIX = ("use data.source: synthetic offline, or download the file elsewhere and set data.source: file, "
               "data.path")


def from_file(params: DataParams) -> KwsDataset:
    """The user's file; its sha256 is checked against data.sha256 when pinned (see DataParams.path)."""
    path = Path(params.path)
    if not path.is_file():
        raise EdgetuneError(f"data.path = {params.path!r}: file not found (relative paths start at the repository root)")
    digest = download.sha256_of(path)
    if params.sha256 and digest != params.sha256:
        raise EdgetuneError(f"data.sha256: {path} has sha256 {digest}, expected {params.sha256}; "
                            "the file changed: update data.sha256 if that is intended")
    if not params.sha256:
        log.warning("data.sha256 is not set: DVC cannot see edits inside %s; pin it with data.sha256: %s", path, digest)
    meta = {"source": "file", "path": str(path), "sha256": digest}
    suffix = path.suffix.lower()
    if suffix == ".npz":
        ds = load_dataset(path)
        return KwsDataset(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.classes, ds.speaker_train,
                          ds.speaker_val, {**meta, "original_meta": ds.meta})
    if suffix in PICKLE_SUFFIXES:
        return brainchip_data.load_pickle(path, meta)
    raise EdgetuneError(f"data.path = {params.path!r}: unsupported file type {suffix or '(none)'}; "
                        "give an .npz in the dataset contract or a BrainChip-format .pkl")


def from_brainchip(params: DataParams) -> KwsDataset:
    """BrainChip's pickle from ``data.url`` (cached); a downloaded file that is refused leaves the cache."""
    path = download.fetch(params.url, params.sha256, "data", OFFLINE_FIX, log)
    meta = {"source": "brainchip", "url": params.url, "sha256": download.sha256_of(path)}
    origin = f"data.url = {params.url}"
    try:
        ds = validate(brainchip_data.load_pickle(path, meta, origin), origin, MFCC_SHAPE)
    except EdgetuneError:
        download.forget(path, log)
        raise
    download.warn_unpinned(params.sha256, "data", params.url, path, log)
    return ds


def promised_shape(params: DataParams) -> tuple[int, ...] | None:
    """The KWS sources (synthetic, BrainChip's pickle, a pickle in its format) are MFCC frames; a user's
    .npz may hold any (H, W, C), checked against the extractor instead."""
    is_npz = params.source == "file" and Path(params.path).suffix.lower() == ".npz"
    return None if is_npz else MFCC_SHAPE


def make_dataset(params: DataParams) -> KwsDataset:
    if params.source == "synthetic":
        from edgetune.data import synthetic  # scipy and the engines are only needed here

        return synthetic.generate(params)
    if params.source == "brainchip":
        return from_brainchip(params)
    return from_file(params)


def data_metrics(ds: KwsDataset) -> dict:
    """Source, counts per class and split, number of voices per split (no time: see metrics/time/)."""
    counts = {}
    persons = {}
    for split in ("train", "val"):
        y = getattr(ds, f"y_{split}")
        counts[split] = {str(name): int(np.sum(y == label)) for label, name in enumerate(ds.classes)}
        speakers = getattr(ds, f"speaker_{split}")
        persons[split] = None if speakers is None else {str(s) for s in speakers} - {""}
    shared = None if None in persons.values() else sorted(persons["train"] & persons["val"])
    metrics = {
        "source": ds.meta.get("source"),
        "num_classes": ds.num_classes,
        "samples": {"train": int(len(ds.y_train)), "val": int(len(ds.y_val))},
        "counts": counts,
        "voices": {split: None if p is None else len(p) for split, p in persons.items()},
        # read from the dataset's own speaker arrays: 0 = validation measures held-out voices only
        "voices_shared": None if shared is None else len(shared),
    }
    if shared:
        log.warning("the dataset's speaker_train and speaker_val share %d voices (%s): validation accuracy "
                    "then measures voices the model has heard; split by speaker to measure held-out ones",
                    len(shared), ", ".join(shared[:5]) + (", …" if len(shared) > 5 else ""))
    if ds.x_train.shape[1:] != MFCC_SHAPE:  # the user's own data: say what a sample is (KWS MFCC need not)
        metrics["sample_shape"] = list(ds.x_train.shape[1:])
    generator = ds.meta.get("generator")
    if ds.meta.get("source") == "synthetic" and generator:  # what the validation accuracy measures
        metrics["val_regime"] = {"speech_snr_db": list(generator.get("val_snr_db", SNR_DB)),
                                 "training_snr_db": list(generator.get("train_snr_db", SNR_DB)),
                                 "cmn": bool(generator.get("cmn", False))}
        if ds.meta.get("clips_per_engine"):  # who speaks: the engines' shares of each split
            metrics["val_regime"]["clips_per_engine"] = ds.meta["clips_per_engine"]
        if persons["val"] and ds.meta.get("engines"):
            metrics["val_regime"]["held_out_by_engine"] = held_out_by_engine(list(ds.meta["engines"]), persons["val"])
    return metrics


def held_out_by_engine(engines: list[str], held_out: set[str]) -> dict[str, list[str]]:
    """Each engine's held-out voice groups (:mod:`edgetune.voice_groups`): the accuracy by group is
    then an accuracy by engine too, where each group is one engine's."""
    from edgetune.data import tts

    return {e: sorted({voice_group(v.speaker) for v in tts.voices(e) if v.speaker in held_out}) for e in engines}


def run(params_path: str | Path = paths.PARAMS, dataset_path: Path = paths.DATASET, metrics_path: Path = paths.DATA_METRICS) -> None:
    params = load_params(params_path).data
    start = time.perf_counter()
    ds = validate(make_dataset(params), params.path if params.source == "file" else f"data.source={params.source}",
                  promised_shape(params))
    seconds = time.perf_counter() - start
    save_dataset(dataset_path, ds)
    metrics = data_metrics(ds)
    write_json(metrics_path, metrics)
    write_json(time_metrics_path(metrics_path, "fetch"), {"fetch_seconds": round(seconds, 1)})
    log.info("%s: %d train / %d val samples, %d classes, voices %s, %.1f s", dataset_path, metrics["samples"]["train"],
             metrics["samples"]["val"], ds.num_classes, metrics["voices"], seconds)
