"""Which extractor every downstream answer is about: its md5, what it was made from, and where.

The edge-learning figures are answers about one extractor. A trained extractor's bytes repeat on
the machine that trained it but not on another CPU (TensorFlow's float kernels sum in an order
that follows the CPU), so the trained ``.fbz`` is committed with the code and every clone reuses
it. This record names it (md5), what it was made from (the dataset's md5, the extractor params)
and how (trained on which CPU, downloaded, or the user's file), so the report can say what its
answers are conditional on and whether a recorded seed spread applies to it.
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

from edgetune.params import ExtractorParams


def file_md5(path: str | Path) -> str:
    """The md5 DVC records for a file (``dvc.lock``), so the two can be compared by eye."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def cpu_name() -> str:
    """The CPU's model name (Linux), or what the platform says elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def made_by(params: ExtractorParams) -> dict:
    """How the model came to be: trained here (on which CPU, with which TensorFlow kernels), downloaded, or given."""
    if params.source == "train":
        import tensorflow as tf

        return {"how": "trained", "cpu": cpu_name(), "tensorflow": tf.__version__,
                "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "unset"),
                "intraop_threads": os.environ.get("TF_NUM_INTRAOP_THREADS", "unset")}
    if params.source == "brainchip":
        return {"how": "downloaded", "url": params.url, "sha256": params.sha256}
    return {"how": "given", "path": params.path}


def identity(model_path: str | Path, data_path: str | Path, params: ExtractorParams) -> dict:
    """The record written beside the model (``results/extractor_identity.json``)."""
    return {"model_md5": file_md5(model_path), "data": {"path": str(data_path), "md5": file_md5(data_path)},
            "params": params.model_dump(), "made": made_by(params)}


def spread_applies(ident: dict, spread: dict) -> bool:
    """A seed spread speaks for this extractor when it was measured on the same data with the same
    params, the seed aside (its seed is one of the draws the spread describes)."""
    def seedless(p: dict) -> dict:
        return {k: v for k, v in p.items() if k != "seed"}

    data = ident.get("data", {})
    return (ident.get("made", {}).get("how") == "trained"
            and spread.get("deps", {}).get(data.get("path")) == data.get("md5")
            and seedless(ident.get("params", {})) == seedless(spread.get("params", {})))
