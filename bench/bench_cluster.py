"""Seed spreads on a Dask cluster: 4 toy runs on 2 workers against 1, and what a run costs beyond its own time.

A toy pipeline (the tests' own) whose stage holds ``HOLD`` seconds stands for a run's own work. A
scheduler and workers run on 127.0.0.1, each worker with its own directory, clones and DVC cache;
a bare git remote and a DVC remote directory stand for the shared ones. Each case is the whole
`python tools/seed_spread.py` command (submit, runs, `dvc exp pull`, table), timed on the wall
clock; the local DVC queue (`--jobs 2`) is measured beside it. Overhead per run = (wall on one
worker − 4 × HOLD) / 4: the clone, `dvc exp run`'s own start, the push and the pull.

    .venv/bin/python bench/bench_cluster.py [hold seconds, default 5]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from conftest import VENV_BIN, copy_project, project_env  # noqa: E402
from test_cluster import LoopbackCluster, shared_project  # noqa: E402

SPREAD = ["--target", "toy", "--seed-param", "toy.gain", "--metrics", "metrics/toy.json", "--keys", "total",
          "--seeds", "1", "4", "--arm", "four", "--arm", "five toy.points=5"]


def timed_spread(root: Path, *extra: str, env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run([str(VENV_BIN / "python"), "tools/seed_spread.py", *SPREAD, *extra], cwd=root, check=True,
                   env={**project_env(), **(env or {})}, capture_output=True)
    return time.perf_counter() - start


def on_cluster(base: Path, workers: int, hold: float) -> float:
    base.mkdir()
    project = shared_project(copy_project(base / "project"), base)
    cluster = LoopbackCluster(base)
    try:
        for k in range(workers):
            cluster.worker(f"w{k + 1}", hold_seconds=hold)
        cluster.wait_for(workers)
        return timed_spread(project.root, "--cluster", cluster.address)
    finally:
        cluster.stop()


def on_local_queue(base: Path, hold: float) -> float:
    base.mkdir()
    project = shared_project(copy_project(base / "project"), base)
    return timed_spread(project.root, "--jobs", "2", "--poll-seconds", "1", env={"TOY_HOLD_SECONDS": str(hold)})


def main() -> None:
    hold = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    with tempfile.TemporaryDirectory() as tmp:
        one = on_cluster(Path(tmp) / "one", 1, hold)
        two = on_cluster(Path(tmp) / "two", 2, hold)
        local = on_local_queue(Path(tmp) / "local", hold)
    overhead = (one - 4 * hold) / 4
    print(f"4 toy runs of {hold:g} s each (two arms × two seeds), wall clock of the whole seed_spread command:\n")
    print("| case | wall (s) | ratio to 1 worker |")
    print("|---|---:|---:|")
    print(f"| Dask, 1 worker | {one:.1f} | 1.00 |")
    print(f"| Dask, 2 workers | {two:.1f} | {two / one:.2f} |")
    print(f"| local DVC queue, 2 jobs | {local:.1f} | {local / one:.2f} |")
    print(f"\nOverhead per run on the cluster (clone, dvc exp run's start, push, pull): {overhead:.1f} s "
          f"against the run's own {hold:g} s ({overhead / hold:.2f} ×); an extractor run's own time is 4–13 min.")


if __name__ == "__main__":
    main()
