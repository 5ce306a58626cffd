"""edgetune.portable: TensorFlow's kernel choice and thread counts pinned before it loads, or a refusal.

Run in fresh interpreters (TensorFlow reads the variables once, when it loads), with the real
TensorFlow import.
"""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO, project_env
from edgetune.portable import PINNED

PINNED_AFTER_IMPORT = """
import os, sys
sys.path.insert(0, {src!r})
from edgetune.logs import import_tensorflow_quietly
import_tensorflow_quietly()
import tensorflow
print(" ".join(f"{{k}}={{os.environ[k]}}" for k in sorted({keys!r})))
"""

TENSORFLOW_FIRST = """
import sys
sys.path.insert(0, {src!r})
import tensorflow
from edgetune.errors import EdgetuneError
from edgetune.portable import pin_cpu_arithmetic
try:
    pin_cpu_arithmetic()
except EdgetuneError as exc:
    print(exc)
"""


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter whose environment sets only ``env`` of the pinned variables (a test
    that imported TensorFlow in this process pinned them here too)."""
    clean = {k: v for k, v in project_env().items() if k not in PINNED}
    return subprocess.run([sys.executable, "-c", code.format(src=str(REPO / "src"), keys=sorted(PINNED))],
                          env={**clean, **env}, capture_output=True, text=True, timeout=300)


def test_a_preset_kernel_cap_and_thread_count_are_overridden_before_tensorflow_loads():
    proc = python(PINNED_AFTER_IMPORT, ONEDNN_MAX_CPU_ISA="SSE41", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="7")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ONEDNN_MAX_CPU_ISA=AVX2 TF_NUM_INTEROP_THREADS=2 TF_NUM_INTRAOP_THREADS=2\n"


def test_pinning_after_tensorflow_was_imported_is_refused_not_silently_skipped():
    proc = python(TENSORFLOW_FIRST, ONEDNN_MAX_CPU_ISA="SSE41")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "TensorFlow was imported before edgetune could pin its CPU arithmetic (ONEDNN_MAX_CPU_ISA, "
        "TF_NUM_INTRAOP_THREADS, TF_NUM_INTEROP_THREADS); import edgetune.logs.import_tensorflow_quietly first, "
        "or set ONEDNN_MAX_CPU_ISA=AVX2 TF_NUM_INTRAOP_THREADS=2 TF_NUM_INTEROP_THREADS=2\n")


def test_already_pinned_by_the_environment_is_accepted_after_tensorflow():
    proc = python(TENSORFLOW_FIRST, **PINNED)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
