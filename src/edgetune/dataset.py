"""The dataset contract (``data/kws.npz``) shared by every stage after fetch.

``x_train, x_val``: uint8 (N, H, W, C) samples of one shape — (N, 49, 10, 1) MFCC frames for the
KWS sources, anything an Akida extractor takes for the user's own file; ``y_train, y_val``: int32 labels in [0, C);
``classes``: str array, index = label; optional ``speaker_train``/``speaker_val`` (voice ids)
and ``meta`` (a JSON string: source, generator params, uint8 scaling).
Validation turns every way a file can be wrong into one line naming the file, the field and
the fix, instead of a numpy traceback three stages later.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgetune.atomic import save_npz
from edgetune.errors import EdgetuneError

MFCC_SHAPE = (49, 10, 1)  # the KWS sources' samples: 49 frames × 10 coefficients (TF speech_commands MFCC)


@dataclass(frozen=True)
class KwsDataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    classes: np.ndarray
    speaker_train: np.ndarray | None = None
    speaker_val: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return int(len(self.classes))


def validate(ds: KwsDataset, origin: str | Path, sample_shape: tuple[int, ...] | None = None) -> KwsDataset:
    """Check the contract; return the dataset with canonical dtypes. ``origin`` names the file in errors.

    ``sample_shape``: the one shape a source promises (the KWS sources: :data:`MFCC_SHAPE`); without it any
    (H, W, C) goes, the same in both splits — whether an extractor takes it is checked against the extractor.
    """

    def fail(field_name: str, problem: str, fix: str = "") -> None:
        raise EdgetuneError(f"{origin}: {field_name}: {problem}" + (f"; {fix}" if fix else ""))

    classes = np.asarray(ds.classes)
    if classes.ndim != 1 or len(classes) < 2:
        fail("classes", f"need a 1-D list of at least 2 class names, got shape {classes.shape}")
    if len(set(classes.tolist())) != len(classes):
        fail("classes", "class names repeat")
    out = {}
    for split in ("train", "val"):
        x = np.asarray(getattr(ds, f"x_{split}"))
        y = np.asarray(getattr(ds, f"y_{split}"))
        if x.ndim == 3:  # (N, H, W): one channel
            x = x[..., None]
        if sample_shape is not None and x.shape[1:] != sample_shape:
            fail(f"x_{split}", f"shape {x.shape}, expected (N, 49, 10, 1) MFCC frames",
                 "features must be 49 frames × 10 coefficients (TF speech_commands MFCC)")
        if x.ndim != 4:
            fail(f"x_{split}", f"shape {x.shape}, expected (N, H, W, C) samples or (N, H, W)",
                 "an Akida extractor takes images of H × W pixels with C channels")
        if split == "val" and x.shape[1:] != out["x_train"].shape[1:]:
            fail("x_val", f"samples of shape {x.shape[1:]}, where x_train's are {out['x_train'].shape[1:]}",
                 "both splits need samples of one shape")
        if len(x) == 0:
            fail(f"x_{split}", "the split is empty")
        if x.dtype != np.uint8:
            if not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() > 255:
                fail(f"x_{split}", f"dtype {x.dtype}, expected uint8 (0..255)", "quantize the samples to uint8 first")
            x = x.astype(np.uint8)
        if y.ndim != 1 or len(y) != len(x):
            fail(f"y_{split}", f"shape {y.shape} does not match {len(x)} samples in x_{split}")
        if not np.issubdtype(y.dtype, np.integer):
            fail(f"y_{split}", f"dtype {y.dtype}, expected integer labels")
        if y.min() < 0 or y.max() >= len(classes):
            fail(f"y_{split}", f"labels span {y.min()}..{y.max()}, expected 0..{len(classes) - 1} (one per class name)")
        absent = sorted(set(range(len(classes))) - set(np.unique(y).tolist()))
        if absent:
            names = [str(classes[i]) for i in absent[:5]]
            fail(f"y_{split}", f"class(es) {names}{'…' if len(absent) > 5 else ''} have no sample",
                 "every class needs samples in both train and val")
        out[f"x_{split}"] = x
        out[f"y_{split}"] = y.astype(np.int32)
        speakers = getattr(ds, f"speaker_{split}")
        if speakers is not None and len(speakers) != len(x):
            fail(f"speaker_{split}", f"{len(speakers)} entries for {len(x)} samples")
    return KwsDataset(classes=classes.astype(str), speaker_train=ds.speaker_train, speaker_val=ds.speaker_val,
                      meta=dict(ds.meta), **out)


def save_dataset(path: str | Path, ds: KwsDataset) -> None:
    ds = validate(ds, path)
    arrays = dict(x_train=ds.x_train, y_train=ds.y_train, x_val=ds.x_val, y_val=ds.y_val, classes=ds.classes,
                  meta=np.array(json.dumps(ds.meta, sort_keys=True)))
    if ds.speaker_train is not None:
        arrays["speaker_train"] = np.asarray(ds.speaker_train)
    if ds.speaker_val is not None:
        arrays["speaker_val"] = np.asarray(ds.speaker_val)
    save_npz(path, **arrays)


def load_dataset(path: str | Path) -> KwsDataset:
    path = Path(path)
    required = ("x_train", "y_train", "x_val", "y_val", "classes")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in required if k not in f.files]
            if missing:
                raise EdgetuneError(f"{path}: missing field(s) {missing}; a dataset npz needs {list(required)}")
            arrays = {k: f[k] for k in f.files}
    except EdgetuneError:
        raise
    except FileNotFoundError:
        raise EdgetuneError(f"{path}: not found; run the fetch stage first (dvc repro fetch)") from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a cut or damaged file (a copy or download stopped)
        raise EdgetuneError(f"{path}: truncated or corrupt .npz ({_one_line(exc)}); copy or write "
                            "the file again (sha256sum tells whether two copies are the same)") from None
    except Exception as exc:  # numpy's header parser raises what a damaged header makes it (ValueError, TokenError…)
        raise EdgetuneError(f"{path}: not a readable .npz ({_one_line(exc)}); give an .npz in the "
                            "dataset contract (numpy.savez)") from None
    meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
    ds = KwsDataset(arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"], arrays["classes"],
                    arrays.get("speaker_train"), arrays.get("speaker_val"), meta)
    return validate(ds, path)


def _one_line(exc: Exception) -> str:
    """``zipfile.BadZipFile: File is not a zip file`` — the exception's full name and message, on one line."""
    kind = type(exc)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    return f"{name}: {' '.join(str(exc).split())}"
