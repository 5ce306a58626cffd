"""BrainChip's preprocessed KWS pickle: a safe unpickler and the conversion to the dataset contract.

The download itself (pooch, sha256-checked, cached) is :mod:`edgetune.download`.

The tutorial reads ``[x_train, y_train, x_val, y_val, files_train, files_val, word_to_index,
data_transform]`` with ``pickle.load`` — which runs whatever code the file asks for. Here the
pickle is read by :class:`SafeUnpickler`, which resolves only numpy's array/dtype/scalar
rebuilders and plain containers; any other global (``os.system``, ``builtins.eval``, a class
from some package…) stops the load before it runs, with a clear error.
"""

from __future__ import annotations

import io
import logging
import pickle
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.dataset import KwsDataset
from edgetune.errors import EdgetuneError

log = logging.getLogger(__name__)

PICKLE_LAYOUT = "[x_train, y_train, x_val, y_val, files_train, files_val, word_to_index, data_transform]"
# Speech Commands names its clips <word>/<speaker>_nohash_<n>.wav: the speaker is a voice id.
SPEECH_COMMANDS_NAME = re.compile(r"(?P<speaker>.+)_nohash_\d+(\.wav)?")


def _numpy_attr(module: str, name: str) -> Any:
    # Pickles written by numpy 1.x name ``numpy.core``; numpy 2 keeps the objects in ``numpy._core``.
    import importlib

    return getattr(importlib.import_module(module.replace("numpy.core", "numpy._core", 1)), name)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset, ("builtins", "bytearray"): bytearray,
    ("builtins", "complex"): complex, ("builtins", "slice"): slice, ("builtins", "range"): range,
    ("__builtin__", "set"): set, ("__builtin__", "frozenset"): frozenset,
    ("collections", "OrderedDict"): OrderedDict,
    ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
}
_NUMPY_REBUILDERS = {"_reconstruct", "scalar", "_frombuffer"}


def _encode_latin1(text: str, encoding: str = "latin1") -> bytes:
    # Protocol-2 pickles store bytes as ``_codecs.encode(str, 'latin1')``; only that codec is allowed.
    if encoding != "latin1":
        raise RefusedGlobal(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allowed set."""


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and plain containers, and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        if module in ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric",
                      "numpy._core.numeric") and name in _NUMPY_REBUILDERS:
            return _numpy_attr(module, name)
        if (module, name) == ("_codecs", "encode"):
            return _encode_latin1
        raise RefusedGlobal(f"{module}.{name}")


def safe_load(data: bytes, origin: str | Path) -> Any:
    """Unpickle ``data`` allowing only numpy arrays and plain containers."""
    try:
        return SafeUnpickler(io.BytesIO(data)).load()
    except RefusedGlobal as exc:
        raise EdgetuneError(
            f"{origin}: refused to unpickle: the file asks to call {exc}, and only numpy arrays and plain "
            "containers are accepted (a pickle can run code; this one might); use a trusted file or an .npz"
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError) as exc:
        raise EdgetuneError(f"{origin}: not a readable pickle ({type(exc).__name__}: {exc})") from None


def _as_uint8(x: Any, field: str, origin: str | Path) -> np.ndarray:
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        if x.size and (x.min() < 0 or x.max() > 255 or not np.array_equal(x, np.round(x))):
            raise EdgetuneError(f"{origin}: {field}: float values that are not whole numbers in 0..255; "
                                "the contract needs uint8 MFCC")
        x = x.astype(np.uint8)
    return x


def _speakers(files: Any, count: int, field: str, origin: str | Path) -> np.ndarray | None:
    """Speech Commands file names ``word/<speaker>_nohash_<n>.wav`` → speaker ids; else None (not recorded).

    Only when every name follows the pattern: a name that does not would otherwise become a
    "voice" of its own (5,011 voices for 5,011 samples), and a split by voice would mean nothing.
    """
    try:
        names = [str(f) for f in (files.tolist() if isinstance(files, np.ndarray) else list(files))]
    except TypeError:
        names = None
    if names is None or len(names) != count:
        log.warning("%s: %s is not a list of %d file names: voices not recorded", origin, field, count)
        return None
    matches = [SPEECH_COMMANDS_NAME.fullmatch(Path(n.replace("\\", "/")).name) for n in names]
    odd = [n for n, m in zip(names, matches) if m is None]
    if odd:
        log.warning("%s: %s: %d of %d file names do not follow Speech Commands' <speaker>_nohash_<n>.wav "
                    "(e.g. %r): voices not recorded", origin, field, len(odd), count, odd[0])
        return None
    return np.array([m.group("speaker") for m in matches])


def to_dataset(obj: Any, origin: str | Path, meta: dict) -> KwsDataset:
    """BrainChip's 8-item list → the dataset contract (validated by the caller on save)."""
    if not isinstance(obj, (list, tuple)) or len(obj) != 8:
        kind = f"a {type(obj).__name__}" + (f" of {len(obj)} items" if isinstance(obj, (list, tuple)) else "")
        raise EdgetuneError(f"{origin}: not in BrainChip's format: expected a list {PICKLE_LAYOUT}, got {kind}")
    x_train, y_train, x_val, y_val, files_train, files_val, word_to_index, _transform = obj
    if not isinstance(word_to_index, dict) or not word_to_index:
        raise EdgetuneError(f"{origin}: word_to_index: expected a dict word → label, got {type(word_to_index).__name__}")
    try:
        index = {str(word): int(label) for word, label in word_to_index.items()}
    except (TypeError, ValueError):
        raise EdgetuneError(f"{origin}: word_to_index: labels must be integers") from None
    if sorted(index.values()) != list(range(len(index))):
        raise EdgetuneError(f"{origin}: word_to_index: labels {sorted(index.values())} are not 0..{len(index) - 1}, "
                            "one per word")
    classes = np.array(sorted(index, key=index.get))
    x_train, x_val = _as_uint8(x_train, "x_train", origin), _as_uint8(x_val, "x_val", origin)
    return KwsDataset(
        x_train=x_train, y_train=np.asarray(y_train), x_val=x_val, y_val=np.asarray(y_val), classes=classes,
        speaker_train=_speakers(files_train, len(x_train), "files_train", origin),
        speaker_val=_speakers(files_val, len(x_val), "files_val", origin), meta=meta,
    )


def load_pickle(path: str | Path, meta: dict, origin: str | Path | None = None) -> KwsDataset:
    """Read a BrainChip-format pickle; errors name ``origin`` (default: the path)."""
    path = Path(path)
    origin = origin or path
    return to_dataset(safe_load(path.read_bytes(), origin), origin, meta)
