"""Everything after the extractor gives the same bytes whatever the CPU's kernels and thread counts.

The extractor is committed with the code (its training follows the CPU: docs/reproducibility.md).
The stages after it run the Akida engine's integer arithmetic on binary spikes, numpy, scipy and
matplotlib, and never load TensorFlow. This reruns them, forced, on tiny data in another
environment — numpy's SIMD dispatch down to SSE4.2, OpenBLAS on its oldest x86 kernel, one thread
everywhere, one core, oneDNN capped at SSE4.1, and a TensorFlow that refuses to load — and asks
for the same bytes in every output but the wall-clock times.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import yaml

from conftest import DvcProject, copy_project, project_env
from pipeline_fixtures import setup_upstream

# Downstream of the extractor, in pipeline order; table-train's timings are put back before `table`,
# so the table and the report (which show the time ratio) must then match byte for byte too.
MEASURED = ["spikes", "weights", "sweep", "table-train@0", "table-train@1", "table-train@2", "hardware"]
SUMMARISED = ["table", "confusion", "fewshot", "report"]
# what this machine runs by default, turned off or down: the features numpy dispatches on, OpenBLAS's kernel
NUMPY_OFF = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX2 FMA3 AVX F16C"
VARIANT = {
    "NPY_DISABLE_CPU_FEATURES": NUMPY_OFF, "OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1", "ONEDNN_MAX_CPU_ISA": "SSE41", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
}
NO_TENSORFLOW = 'raise ImportError("a stage after the extractor imported TensorFlow")\n'


def is_timing(path: str) -> bool:
    return path.startswith("metrics/time/") or path.endswith(".time.json")


def digests(root: Path, stages: list[str]) -> dict[str, str]:
    """md5 of every file the stages write (folders walked), wall-clock files aside."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    out = {}
    for stage in stages:
        for o in lock[stage]["outs"]:
            target = root / o["path"]
            for f in sorted(target.rglob("*")) if target.is_dir() else [target]:
                rel = str(f.relative_to(root))
                if f.is_file() and not is_timing(rel):
                    out[rel] = hashlib.md5(f.read_bytes()).hexdigest()
    return out


def variant_environment(guard: Path) -> dict[str, str]:
    (guard / "tensorflow").mkdir(parents=True)
    (guard / "tensorflow" / "__init__.py").write_text(NO_TENSORFLOW)
    return {**VARIANT, "PYTHONPATH": str(guard)}


def test_the_variant_environment_really_changes_the_kernels(tmp_path):
    env = variant_environment(tmp_path / "guard")
    probe = DvcProject(tmp_path)
    code = ("import json, numpy\nfrom numpy._core._multiarray_umath import __cpu_features__ as f\n"
            "from threadpoolctl import threadpool_info\n"
            "print(json.dumps([sorted(k for k in ('AVX', 'AVX2', 'AVX512F', 'FMA3') if f[k]), "
            "[i['architecture'] for i in threadpool_info()]]))\n"
            "try:\n    import tensorflow\nexcept ImportError as exc:\n    print(exc)\n")
    out = probe.run(sys.executable, "-c", code, env=env).stdout.splitlines()
    assert json.loads(out[0]) == [[], ["Katmai"]]  # no AVX of any width; OpenBLAS's SSE kernel
    assert out[1] == "a stage after the extractor imported TensorFlow"
    assert project_env().get("PYTHONPATH") is None  # the ordinary runs see the real TensorFlow


def test_stages_after_the_extractor_give_the_same_bytes_in_another_cpu_environment(tmp_path):
    first = copy_project(tmp_path / "first" / "project")
    setup_upstream(first, sweep_jobs=0)  # one worker per core it may use: 2 here, then 1 under taskset
    first.run("dvc", "repro", "-s", "report")
    second = DvcProject(tmp_path / "second" / "project")
    shutil.copytree(first.root, second.root, symlinks=True)
    env = variant_environment(tmp_path / "guard")
    one_core = ("taskset", "-c", "0", sys.executable, "-m", "dvc", "repro", "-f", "-s")

    out = second.run(*one_core, *MEASURED, env=env).stdout
    assert [f"Running stage '{s}'" in out for s in MEASURED] == [True] * len(MEASURED), out
    for timing in (first.root / "results" / "table").glob("*.time.json"):
        shutil.copyfile(timing, second.root / "results" / "table" / timing.name)
    out = second.run(*one_core, *SUMMARISED, env=env).stdout
    assert [f"Running stage '{s}'" in out for s in SUMMARISED] == [True] * len(SUMMARISED), out

    stages = MEASURED + SUMMARISED
    a, b = digests(first.root, stages), digests(second.root, stages)
    assert {"data/spikes.npz", "results/num_weights.json", "plots/sweep.csv", "results/table/seed-2.json",
            "metrics/table.json", "plots/table.png", "metrics/fewshot.json", "report/report.md"} <= set(a)
    assert [p for p in a if a[p] != b.get(p)] == []
