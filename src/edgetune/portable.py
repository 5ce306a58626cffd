"""Same params → same extractor bytes on any x86-64 machine: TensorFlow's CPU arithmetic pinned.

TensorFlow multiplies matrices and convolves through oneDNN, which picks its kernels when it first
runs, from the CPU: AVX-512 on one machine, AVX2 on another. Each kernel sums in its own order, so
two machines train float models that differ in the last bits; quantization and the spike layer's
calibration (a threshold at a quantile) then turn those bits into another extractor, and every
metric downstream moves. Measured on one AVX-512 machine, 2 epochs of a small DS-CNN: the
weights' md5 differs between oneDNN capped at AVX2, at AVX-512 and at SSE4.1; with 1 intra-op
thread instead of 2 it differs again. Fixing both makes every machine with AVX2 (every x86-64
server and laptop of the last ten years) run the same arithmetic, at the cost of the AVX-512
speed-up on machines that have it.

The variables are read when TensorFlow loads, so :func:`pin_cpu_arithmetic` must run first;
it refuses to run after, rather than silently not pinning.
"""

from __future__ import annotations

import os
import sys

from edgetune.errors import EdgetuneError

PINNED = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN's kernels: the same on every CPU with AVX2
    "TF_NUM_INTRAOP_THREADS": "2",  # how work is split inside one op (changes summation order)
    "TF_NUM_INTEROP_THREADS": "2",
}


def pin_cpu_arithmetic() -> None:
    """Set the pinned kernel choice and thread counts; call before TensorFlow is imported."""
    differs = {k: v for k, v in PINNED.items() if os.environ.get(k) != v}
    if differs and "tensorflow" in sys.modules:
        raise EdgetuneError(
            f"TensorFlow was imported before edgetune could pin its CPU arithmetic ({', '.join(differs)}); "
            "import edgetune.logs.import_tensorflow_quietly first, or set "
            + " ".join(f"{k}={v}" for k, v in PINNED.items())
        )
    os.environ.update(PINNED)
