"""The table's time-ratio column, measured in independent runs side by side, and the table's cost before/after.

Each run is a fresh clone of HEAD given this checkout's reproduced inputs (``data/``, ``models/``,
``metrics/weights.json``) and a forced ``dvc repro`` of the timing stages (``table-train`` items,
``table``): nothing is shared between runs but the inputs. Printed: the
whole-model ratio of every row in every run, the largest deviation per row (target ≤ 0.03),
whether each run's column is monotone, and the wall time of the table's stages in each run
against the method before (``--before``, the commit that timed one whole-model fit per value),
run once on the same inputs. Run ``make repro`` first: the inputs come from it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run_all import bench_env  # stages call plain `python`: this venv's first on PATH

REPO = Path(__file__).resolve().parents[1]
INPUTS = ("data/kws.npz", "data/spikes.npz", "models/extractor.fbz", "metrics/weights.json")
TARGET_DEVIATION = 0.03
BEFORE = "4a51256"  # one whole-model fit per value, timed once: a noisy column


def clone_with_inputs(repo: Path, rev: str, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(repo), str(dest)], check=True)
    subprocess.run(["git", "checkout", "-q", rev], cwd=dest, check=True)
    for rel in INPUTS:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / rel, dest / rel)
    return dest


def timed_repro(clone: Path, stages: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, every process it ran) of a forced repro of ``stages``."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dvc", "repro", "-s", "-f", *stages], cwd=clone,
                          capture_output=True, text=True, env=bench_env())
    if proc.returncode != 0:
        raise SystemExit(f"dvc repro {' '.join(stages)} failed in {clone}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return time.perf_counter() - start, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout with make repro's outputs (default: this one)")
    parser.add_argument("--runs", type=int, default=3, help="independent runs of the timing stages (default: 3)")
    parser.add_argument("--before", default=BEFORE, help=f"commit of the previous method (default: {BEFORE}); '' to skip")
    args = parser.parse_args(argv)
    missing = [rel for rel in INPUTS if not (args.repo / rel).exists()]
    if missing:
        print(f"bench_time_ratio: {', '.join(missing)} missing in {args.repo}: run make repro first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="edgetune-ratio-") as tmp:
        columns, costs = [], []
        for i in range(args.runs):
            clone = clone_with_inputs(args.repo, "HEAD", Path(tmp) / f"run{i}")
            costs.append(timed_repro(clone, ["table-train", "table"]))
            columns.append(json.loads((clone / "metrics/time/table.json").read_text()))
            shutil.rmtree(clone)
        before = None
        if args.before:
            clone = clone_with_inputs(args.repo, args.before, Path(tmp) / "before")
            before = timed_repro(clone, ["table-train", "table"])
    values = sorted((int(v) for v in columns[0]["rows"]), key=int)
    worst = {}
    for key, name in (("time_ratio_model", "process CPU time: the column"), ("time_ratio_model_wall", "wall clock, beside it")):
        print(f"time ratio (whole model, reference {columns[0]['time_reference']}; {name}) in {args.runs} independent runs")
        print(f"{'npc':>5} | " + " | ".join(f"run {i + 1:>2}" for i in range(args.runs)) + " | max deviation")
        worst[key] = 0.0
        for v in values:
            ratios = [c["rows"][str(v)][key] for c in columns]
            dev = max(ratios) - min(ratios)
            worst[key] = max(worst[key], dev)
            print(f"{v:>5} | " + " | ".join(f"{r:6.3f}" for r in ratios) + f" | {dev:.3f}")
        print(f"largest deviation {worst[key]:.3f}" + (f" (target ≤ {TARGET_DEVIATION}): "
              f"{'ok' if worst[key] <= TARGET_DEVIATION else 'MISSED'}" if key == "time_ratio_model" else ""))
    print("monotone in every run: " + ("yes" if all(c["monotone"] for c in columns) else "NO"))
    print("F, extractor forward (min of the rounds): " + ", ".join(
        f"{c['forward_cpu_seconds']:.2f} s CPU / {c['forward_seconds']:.2f} s wall" for c in columns))
    print("table stages' cost, wall / CPU (user + system): " + ", ".join(f"{w:.1f} s / {c:.1f} s" for w, c in costs)
          + (f"; before ({args.before}): {before[0]:.1f} s / {before[1]:.1f} s; after / before "
             f"{min(w for w, _ in costs) / before[0]:.2f} wall (best run), "
             f"{min(c for _, c in costs) / before[1]:.2f} CPU (best run)" if before else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
