"""Atomic output writes: a failed stage must never leave a half-written file DVC could cache.

Every output goes to a temporary file in the same folder and is renamed over the target only
once it is complete (``os.replace`` is atomic on one filesystem).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o644 & ~_umask())  # mkstemp makes it private; outputs are ordinary project files
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON with sorted keys and a trailing newline, so identical results give identical bytes."""
    write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n")


def save_npz(path: str | os.PathLike, compressed: bool = True, **arrays: np.ndarray) -> None:
    """``np.savez`` atomically. Zip entries carry a fixed date, so equal arrays give equal bytes."""
    saver = np.savez_compressed if compressed else np.savez
    with atomic_path(path, suffix=".npz") as tmp:
        saver(tmp, **arrays)


def to_jsonable(obj: Any) -> Any:
    """Turn numpy scalars/arrays (and nested containers of them) into plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; swap it in for ``path`` if the block succeeds.

    The previous folder goes as a whole, so files a new run no longer writes (e.g. the curves of
    a class removed from the params) cannot linger. Two renames: ``path`` is briefly absent,
    never half-written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; outputs are ordinary project files
    try:
        yield tmp
        graveyard = None
        if target.exists() or target.is_symlink():
            graveyard = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old.tmp", dir=target.parent))
            os.replace(target, graveyard / target.name)
        os.replace(tmp, target)
        if graveyard is not None:
            shutil.rmtree(graveyard)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
