"""Bench: numpy scoring (edge.predict_classes) against the akida engine's forward, same layer, same spikes.

For each neurons-per-class value, the edge layer is trained once (real engine ``fit``), then the
same spikes are scored three ways, each in its own fresh subprocess so that time and peak memory
belong to that way alone:

* ``numpy``        — edge.predict_classes: float32 BLAS products in bounded batches (what the stages use);
* ``akida``        — the engine's ``forward`` on the whole set at once (what the tutorial does), then
                     max per class and argmax;
* ``akida-batched`` — the engine's ``forward`` in the same batches as numpy (memory bounded too).

Peak memory is the growth of the child's resident set during scoring: the kernel's peak-RSS
counter (VmHWM) is reset just before (``/proc/self/clear_refs``), so the C++ engine's allocations
count as well as numpy's (tracemalloc would see only Python's). Each child also hashes all its
potentials (int32, row-major) and predictions outside the timed part; the bench fails unless the
hashes are identical.

    .venv/bin/python bench/bench_scoring.py                     # data/spikes.npz-like data
    .venv/bin/python bench/bench_scoring.py --spikes data/spikes.npz --npc 10 50 300

Without a spikes file (default: data/spikes.npz, made by `make repro`) it makes
synthetic spikes shaped like the default pipeline's: 33 classes × 400 training samples, D = 256,
about 28 % of the bits set, with class structure so the layer learns something.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from edgetune.edge import layer as edge  # noqa: E402
from edgetune.edge.spikefile import load_spikes  # noqa: E402

DEFAULT_SPIKES = (REPO / "data" / "spikes.npz",)  # what `make repro` made
WAYS = ("numpy", "akida", "akida-batched")


def synthetic_spikes(seed: int = 0, classes: int = 33, per_class: int = 400, width: int = 256,
                     firing: float = 0.28, modes: int = 4):
    """Binary spikes with a per-neuron base rate around ``firing``, per-class sub-modes, and noise."""
    rng = np.random.default_rng(seed)
    base = rng.beta(2.0, 2.0 * (1 - firing) / firing, width)  # per-neuron rates, mean ≈ firing
    logit = np.log(base / (1 - base))
    protos = logit + 1.6 * rng.standard_normal((classes, modes, width))
    low, high = -10.0, 10.0  # shift all logits so the mean firing rate is ``firing`` (bisection)
    for _ in range(60):
        shift = (low + high) / 2
        low, high = (shift, high) if (1 / (1 + np.exp(-(protos + shift)))).mean() < firing else (low, shift)
    probs = 1 / (1 + np.exp(-(protos + shift)))
    y = np.repeat(np.arange(classes, dtype=np.int32), per_class)
    mode = rng.integers(0, modes, len(y))
    x = (rng.random((len(y), width)) < probs[y, mode]).astype(np.uint8)
    order = rng.permutation(len(y))
    return x[order], y[order]


def _peak_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux ≥ 4.0: resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _class_max(pot: np.ndarray, c: int, npc: int) -> np.ndarray:
    return pot.reshape(len(pot), c, npc).max(axis=2)


def child(job: Path, way: str, repeats: int, batch_size: int) -> dict:
    """Score the job's spikes one way; return seconds (best of repeats), peak growth and hashes."""
    import psutil

    with np.load(job) as f:
        x, w = f["x"], f["weights"]
        c, npc, nw = (int(v) for v in f["config"])
    config = edge.EdgeConfig(num_classes=c, neurons_per_class=npc, num_weights=nw)
    trained = edge.TrainedEdge(config=config, weights=w, learned=np.ones(config.units, bool), fit_seconds=0.0)
    model = None
    if way != "numpy":
        model = edge.build_model(x.shape[1], config)
        model.get_layer(edge.LAYER_NAME).set_variable("weights", w.astype(np.int8).reshape(1, 1, *w.shape))
    x4 = x.reshape(len(x), 1, 1, -1)

    def score() -> np.ndarray:
        if way == "numpy":
            return edge.predict_classes(x, trained, batch_size)
        if way == "akida":
            pot = model.forward(x4).reshape(len(x), -1)
            return _class_max(pot, c, npc).argmax(axis=1)
        out = np.empty(len(x), np.int64)
        for start in range(0, len(x), batch_size):
            pot = model.forward(x4[start : start + batch_size]).reshape(-1, config.units)
            out[start : start + len(pot)] = _class_max(pot, c, npc).argmax(axis=1)
        return out

    warm = x[:8] if way == "numpy" else x4[:8]  # first calls allocate one-off buffers (OpenBLAS, engine)
    edge.predict_classes(warm, trained) if way == "numpy" else model.forward(warm)
    seconds, peak = [], 0
    for _ in range(repeats):
        base = psutil.Process().memory_info().rss
        exact = _peak_reset()
        start = time.perf_counter()
        pred = score()
        seconds.append(time.perf_counter() - start)
        peak = max(peak, (_peak_rss() if exact else psutil.Process().memory_info().rss) - base)

    # hashes of every potential (row-major int32) and of the predictions, outside the timed part
    pot_hash = hashlib.sha256()
    if way == "numpy":
        for _, pot in edge.iter_potentials(x, w, batch_size):
            pot_hash.update(np.ascontiguousarray(pot, dtype=np.int32).tobytes())
    else:
        for start in range(0, len(x), batch_size):
            pot = model.forward(x4[start : start + batch_size]).reshape(-1, config.units)
            pot_hash.update(np.ascontiguousarray(pot, dtype=np.int32).tobytes())
    return {
        "seconds": min(seconds),
        "peak_bytes": int(peak),
        "peak_exact": exact,
        "potentials_sha256": pot_hash.hexdigest(),
        "predictions_sha256": hashlib.sha256(np.asarray(pred, np.int64).tobytes()).hexdigest(),
    }


def run_child(job: Path, way: str, args) -> dict:
    env = dict(os.environ)
    if args.threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    cmd = [sys.executable, __file__, "--child", way, "--job", str(job), "--repeats", str(args.repeats),
           "--batch-size", str(args.batch_size)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{way} child failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def load_data(path: str | None):
    candidates = [Path(path)] if path else [p for p in DEFAULT_SPIKES if p.exists()]
    if candidates:
        s = load_spikes(candidates[0])
        return (f"{candidates[0]} (train {len(s.x_train)}, val {len(s.x_val)})", s.x_train, s.y_train,
                np.concatenate([s.x_train, s.x_val]), s.num_classes)
    x, y = synthetic_spikes()
    return (f"synthetic spikes ({len(x)} × {x.shape[1]}, {x.mean():.1%} firing, 33 classes)", x, y, x, 33)


def mib(n: int) -> str:
    return f"{n / 2**20:8.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spikes", help="a spikes.npz (default: shared or data/spikes.npz, else synthetic)")
    parser.add_argument("--npc", type=int, nargs="+", default=[10, 50, 300], help="neurons per class values")
    parser.add_argument("--num-weights", type=int, default=0, help="0: int(1.2 × median spikes), as the stage")
    parser.add_argument("--batch-size", type=int, default=edge.DEFAULT_BATCH)
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per way (best is kept)")
    parser.add_argument("--threads", type=int, default=1,
                        help="OPENBLAS/OMP/MKL_NUM_THREADS for every child, numpy's and the engine's "
                             "(default 1: one core each, a like-for-like comparison); 0 = libraries' defaults")
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.job), args.child, args.repeats, args.batch_size)))
        return 0

    source, x_train, y_train, x_score, classes = load_data(args.spikes)
    median = float(np.median(x_train.sum(axis=1)))
    num_weights = args.num_weights or int(1.2 * median)
    print(f"data: {source}; scoring {len(x_score)} samples; num_weights {num_weights} (median {median:g})")
    print(f"threads (BLAS/OpenMP, every way): {args.threads or 'library defaults'}; batch {args.batch_size}; "
          f"best of {args.repeats}; peak = resident-set growth during scoring\n")
    header = f"{'npc':>5} {'units':>6} | {'way':<13} {'seconds':>8} {'peak':>12} | {'time ×':>7} {'memory ×':>9}"
    print(header)
    print("-" * len(header))
    order = np.random.default_rng(0).permutation(len(x_train))
    all_identical = True
    with tempfile.TemporaryDirectory() as tmp:
        for npc in args.npc:
            config = edge.EdgeConfig(num_classes=classes, neurons_per_class=npc, num_weights=num_weights)
            trained = edge.train(x_train[order], y_train[order], config)
            job = Path(tmp) / f"job_{npc}.npz"
            np.savez(job, x=x_score, weights=trained.weights, config=np.array([classes, npc, num_weights]))
            results = {way: run_child(job, way, args) for way in WAYS}
            ref = results["numpy"]
            for way in WAYS:
                r = results[way]
                same = (r["potentials_sha256"] == ref["potentials_sha256"]
                        and r["predictions_sha256"] == ref["predictions_sha256"])
                all_identical &= same
                ratio_t = r["seconds"] / ref["seconds"]
                ratio_m = r["peak_bytes"] / max(ref["peak_bytes"], 1)
                print(f"{npc:>5} {config.units:>6} | {way:<13} {r['seconds']:8.3f} {mib(r['peak_bytes']):>12} | "
                      f"{ratio_t:7.1f} {ratio_m:9.1f}" + ("" if same else "   POTENTIALS DIFFER"))
            print(f"{'':>5} {'':>6} | (engine fit {trained.fit_seconds:.1f} s, {trained.num_learned} neurons learned)")
    print("\n'time ×' and 'memory ×': that way's wall time and peak memory divided by numpy's.")
    print("potentials and predictions identical across ways:", "yes" if all_identical else "NO")
    return 0 if all_identical else 1


if __name__ == "__main__":
    sys.exit(main())
