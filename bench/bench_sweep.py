"""Bench: the tutorial's sequential ``compute_losses`` loop against the sweep stage's implementation.

Same class, same neurons-per-class values, same repetitions, side by side in one run:

* tutorial — one process; per training: build and compile the layer, ``fit`` on the shuffled
  class spikes, then the engine's ``forward`` to get the max potentials, as in the tutorial text;
* stage — :func:`edgetune.edge.sweep_pool.sweep_classes`: a pool of worker processes, biggest layers first,
  numpy scoring (checked equal to the engine's forward in tests/test_edge.py).

To make the two comparable result by result, the tutorial loop gets the stage's seeded initial
weights and its seeded permutation (the tutorial itself draws both at random, unseeded): the
losses and learned counts must then be equal, and the bench checks they are.

Spikes: data/spikes.npz (class 'six' of the train split, or every class) and
metrics/weights.json when `make repro` made them, else realistic synthetic spikes (binary, D=256, ~28 % firing, 400
samples drawn around 40 prototypes, num_weights 85). Usage:
``python bench/bench_sweep.py [--word six|all] [--jobs 2] [--repetitions 3] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
from akida import AkidaUnsupervised, FullyConnected, InputData, Model  # noqa: E402

from edgetune.edge import layer as edge, sweep_pool  # noqa: E402
from edgetune.vocabulary import TUTORIAL_NEURONS_PER_CLASS  # noqa: E402
from edgetune.edge.spikefile import load_spikes  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SPIKES = REPO / "data" / "spikes.npz"  # what `make repro` made
WEIGHTS = REPO / "metrics" / "weights.json"


def realistic_class_spikes(seed: int = 0, samples: int = 400, width: int = 256, firing: float = 0.28,
                           prototypes: int = 40) -> np.ndarray:
    """One class's spikes: variants of a class pattern (a quarter of the bits redrawn), 8 % bit noise."""
    rng = np.random.default_rng(seed)
    base = rng.random(width) < firing
    protos = np.where(rng.random((prototypes, width)) < 0.25, rng.random((prototypes, width)) < firing, base)
    x = protos[rng.integers(0, prototypes, samples)]
    return np.where(rng.random(x.shape) < 0.08, rng.random(x.shape) < firing, x).astype(np.uint8)


def load_classes(word: str) -> tuple[dict[int, np.ndarray], dict[int, str], int, str]:
    """({class index: spikes}, {class index: name}, num_weights, where they came from); word may be 'all'."""
    if SPIKES.exists():
        spikes = load_spikes(SPIKES)
        classes = [str(c) for c in spikes.classes]
        indices = range(len(classes)) if word == "all" else [classes.index(word)]
        num_weights = edge.load_num_weights(WEIGHTS) if WEIGHTS.exists() else 85
        by_class = {c: spikes.x_train[spikes.y_train == c] for c in indices}
        return by_class, {c: classes[c] for c in by_class}, num_weights, str(SPIKES.relative_to(REPO))
    count = 33 if word == "all" else 1
    by_class = {c: realistic_class_spikes(seed=c) for c in range(count)}
    names = {c: (f"class{c}" if word == "all" else word) for c in by_class}
    return by_class, names, 85, "synthetic (D=256, ~28 % firing, 400 samples, 40 prototypes per class)"


def tutorial_compute_losses(spikes, neurons_per_class, num_weights, class_index, seed,
                            learning_competition=0.1, num_repetitions=3):
    """The tutorial's loop (spikes already extracted), seeded as the stage seeds each training."""
    spikes = spikes.reshape(len(spikes), 1, 1, -1)

    def create_one_fc_model(num_neurons):
        model_fc = Model()
        model_fc.add(InputData(input_shape=(1, 1, spikes.shape[-1]), input_bits=1))
        layer_fc = FullyConnected(name="akida_edge_layer", units=num_neurons, activation=False)
        model_fc.add(layer_fc)
        model_fc.compile(optimizer=AkidaUnsupervised(num_weights=num_weights, num_classes=1,
                                                     learning_competition=learning_competition))
        return model_fc

    losses = np.zeros((len(neurons_per_class), num_repetitions))
    num_learned_neurons = np.zeros((len(neurons_per_class), num_repetitions))
    for idx, n in enumerate(neurons_per_class):
        for i in range(num_repetitions):
            model_fc = create_one_fc_model(num_neurons=n)
            # bench-only: the stage's seeded initial weights and permutation, so results can match
            permutation_seed, weights_seed = sweep_pool.task_seeds(seed, class_index, n, i)
            model_fc.get_layer("akida_edge_layer").set_variable(
                "weights", edge.seeded_initial_weights(spikes.shape[-1], n, num_weights, weights_seed))

            # Train model
            permut_spikes = spikes[sweep_pool.shuffled_order(len(spikes), permutation_seed)]
            model_fc.fit(permut_spikes, input_labels=0)

            # Get max potentials
            max_potentials = model_fc.forward(permut_spikes).max(axis=-1)
            losses[idx, i] = np.sum(num_weights - max_potentials)

            # Get threshold learning
            th_learn = model_fc.get_layer("akida_edge_layer").get_variable("threshold_learning")
            num_learned_neurons[idx, i] = np.sum(th_learn > 0)
    return losses, num_learned_neurons


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def machine_scaling(n: int = 6_000_000) -> float:
    """How much faster 2 equal pure-CPU jobs run on 2 processes than one after the other, right now.

    The ceiling of any 2-worker speed-up on this machine at this moment: other users' load takes
    cores away, and the ratio below can only be read against it.
    """
    import multiprocessing

    start = time.perf_counter()
    _burn(n), _burn(n)
    sequential = time.perf_counter() - start
    with multiprocessing.get_context("fork").Pool(2) as pool:
        start = time.perf_counter()
        pool.map(_burn, [n, n])
        parallel = time.perf_counter() - start
    return sequential / parallel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--word", default="six", help="a class name, or 'all' (each class's loop in turn)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate tutorial/stage this many times; the ratio uses each side's best time "
                             "(other users' load on a shared machine only ever adds time)")
    args = parser.parse_args()

    by_class, names, num_weights, origin = load_classes(args.word)
    values = list(TUTORIAL_NEURONS_PER_CLASS)
    settings = sweep_pool.TrainingSettings(num_weights, 0.1, args.seed)
    samples = sum(len(x) for x in by_class.values())
    firing = np.mean([x.mean() for x in by_class.values()])
    trainings = len(by_class) * len(values) * args.repetitions
    print(f"spikes: {origin}; {len(by_class)} class(es) ({args.word}): {samples} samples, "
          f"firing {firing:.1%}, num_weights {num_weights}")
    print(f"{len(by_class)} class(es) × {len(values)} values × {args.repetitions} repetitions = {trainings} trainings; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    tutorial_times, stage_times, equal = [], [], True
    for r in range(args.rounds):
        start = time.perf_counter()
        tutorial = {c: tutorial_compute_losses(x, values, num_weights, c, args.seed, num_repetitions=args.repetitions)
                    for c, x in by_class.items()}
        tutorial_times.append(time.perf_counter() - start)

        start = time.perf_counter()
        results, workers, _ = sweep_pool.sweep_classes(
            by_class, names, values, args.repetitions, settings, jobs=args.jobs, progress=False)
        stage_times.append(time.perf_counter() - start)
        same = all(np.array_equal(tutorial[res.class_index][0], res.loss_sums)
                   and np.array_equal(tutorial[res.class_index][1], res.learned) for res in results)
        equal &= same
        print(f"round {r + 1}: tutorial {tutorial_times[-1]:6.2f} s, stage {stage_times[-1]:6.2f} s "
              f"({workers} workers), ratio {tutorial_times[-1] / stage_times[-1]:.2f}x, results equal: {same}")

    scaling = machine_scaling()
    best_tutorial, best_stage = min(tutorial_times), min(stage_times)
    print(f"tutorial loop (1 process, engine forward): best {best_tutorial:6.2f} s")
    print(f"sweep stage ({workers} workers, numpy scoring):   best {best_stage:6.2f} s")
    print(f"ratio: {best_tutorial / best_stage:.2f}x   (load average now {os.getloadavg()[0]:.1f})")
    print(f"this machine's own 2-process scaling of a pure-CPU loop, now: {scaling:.2f}x (the parallel ceiling)")
    print(f"results equal (every repetition's loss and learned count): {equal}")
    print(json.dumps({
        "machine_2_process_scaling": round(scaling, 3),
        "tutorial_seconds": [round(t, 3) for t in tutorial_times], "stage_seconds": [round(t, 3) for t in stage_times],
        "ratio": round(best_tutorial / best_stage, 3), "workers": workers, "equal": bool(equal),
    }))
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
