"""The sweep's trainings: one task per (class, value, repetition), on a pool of worker processes.

Each task is seeded by ``SeedSequence([seed, class_index, value, repetition])``, so a result
depends neither on the number of workers nor on the order tasks finish.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from edgetune.edge import layer as edge
from edgetune.errors import EdgetuneError
from edgetune.logs import muted


@dataclass(frozen=True)
class SweepTask:
    """One training: which class, which neurons-per-class value, which repetition."""

    class_index: int
    neurons_per_class: int
    repetition: int


@dataclass(frozen=True)
class TrainingSettings:
    """What every task of a sweep shares."""

    num_weights: int
    learning_competition: float
    seed: int


@dataclass
class ClassSweep:
    """Raw results of one class: loss sums and learned counts, shaped (values, repetitions)."""

    word: str
    class_index: int
    samples: int
    neurons_per_class: list[int]
    loss_sums: np.ndarray
    learned: np.ndarray
    fit_seconds: float = 0.0
    short_values: list[int] = field(default_factory=list)

    @property
    def losses(self) -> np.ndarray:
        """Loss per sample of every training, (values, repetitions) — the tutorial divides by samples."""
        return self.loss_sums / self.samples


def task_seeds(seed: int, class_index: int, neurons_per_class: int, repetition: int) -> tuple[int, int]:
    """(permutation seed, initial-weights seed) of one training, independent of scheduling."""
    state = np.random.SeedSequence([seed, class_index, neurons_per_class, repetition]).generate_state(2)
    return int(state[0]), int(state[1])


def shuffled_order(samples: int, permutation_seed: int) -> np.ndarray:
    """The tutorial's ``np.random.permutation(spikes)``, seeded."""
    return np.random.default_rng(permutation_seed).permutation(samples)


def train_one(x_class: np.ndarray, task: SweepTask, settings: TrainingSettings) -> tuple[int, int, float]:
    """Train one layer of ``n`` neurons on a class's shuffled samples; return (Σ loss, learned, fit s)."""
    permutation_seed, weights_seed = task_seeds(settings.seed, task.class_index, task.neurons_per_class, task.repetition)
    shuffled = x_class[shuffled_order(len(x_class), permutation_seed)]
    config = edge.EdgeConfig(
        num_classes=1,
        neurons_per_class=task.neurons_per_class,
        num_weights=settings.num_weights,
        learning_competition=settings.learning_competition,
        seed=weights_seed,
    )
    trained = edge.train(shuffled, np.zeros(len(shuffled), np.int32), config)
    max_potentials = edge.class_max_potentials(shuffled, trained)[:, 0]
    loss_sum = int((settings.num_weights - max_potentials.astype(np.int64)).sum())
    return loss_sum, trained.num_learned, trained.fit_seconds


# --- worker processes ------------------------------------------------------------------------
# Each worker receives the class spikes once (initializer), then only small task tuples travel.
_WORKER_SPIKES: dict[int, np.ndarray] = {}
_WORKER_SETTINGS: TrainingSettings | None = None


def _init_worker(spikes_by_class: dict[int, np.ndarray], settings: TrainingSettings) -> None:
    global _WORKER_SPIKES, _WORKER_SETTINGS
    _WORKER_SPIKES, _WORKER_SETTINGS = spikes_by_class, settings
    # One BLAS thread per worker: the pool is the parallelism. OpenBLAS's own threads spin while
    # idle, so 2 workers × 2 BLAS threads on 2 cores made the pool slower than one process
    # (bench/bench_sweep.py: 0.9× instead of 2.5×).
    threadpool_limits(limits=1)
    # edge.train warns per training when npc > samples; the parent warns once per class instead
    edge.log.setLevel(logging.ERROR)


def _run_task(task: SweepTask) -> tuple[SweepTask, int, int, float]:
    assert _WORKER_SETTINGS is not None
    return (task, *train_one(_WORKER_SPIKES[task.class_index], task, _WORKER_SETTINGS))


def resolve_jobs(jobs: int, tasks: int, name: str = "sweep.jobs") -> int:
    """Workers to start: ``jobs`` (0 = every core this process may use), never more than tasks."""
    if jobs < 0:
        raise EdgetuneError(f"{name} = {jobs}: must be ≥ 0 (0 = all cores)")
    if jobs == 0:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(jobs, tasks))


def plan_tasks(class_indices: list[int], neurons_per_class: list[int], repetitions: int) -> list[SweepTask]:
    """All trainings, biggest layers first: long tasks start early, short ones fill the gaps at the end."""
    tasks = [SweepTask(c, n, r) for c in class_indices for n in neurons_per_class for r in range(repetitions)]
    return sorted(tasks, key=lambda t: (-t.neurons_per_class, t.class_index, t.repetition))


def pool_context():
    # fork: workers inherit the imported engine and the spikes at no cost (spawn re-imports
    # numpy+akida per worker, ≈0.4 s, a large share of a one-class sweep). The parent holds no
    # locks a child could need: the engine starts no threads (measured), numpy's OpenBLAS
    # handles fork itself.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run_trainings(
    spikes_by_class: dict[int, np.ndarray],
    neurons_per_class: list[int],
    repetitions: int,
    settings: TrainingSettings,
    jobs: int = 0,
    progress: bool = True,
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], dict[int, float], int]:
    """Run every (class, value, repetition) training; return loss sums, learned, fit seconds per class, workers.

    Arrays are (values, repetitions), in the order of ``neurons_per_class``.
    """
    tasks = plan_tasks(sorted(spikes_by_class), neurons_per_class, repetitions)
    workers = resolve_jobs(jobs, len(tasks))
    value_pos = {n: i for i, n in enumerate(neurons_per_class)}
    shape = (len(neurons_per_class), repetitions)
    loss_sums = {c: np.zeros(shape, np.int64) for c in spikes_by_class}
    learned = {c: np.zeros(shape, np.int64) for c in spikes_by_class}
    fit_seconds = {c: 0.0 for c in spikes_by_class}

    def record(task: SweepTask, loss_sum: int, num_learned: int, seconds: float) -> None:
        i = value_pos[task.neurons_per_class]
        loss_sums[task.class_index][i, task.repetition] = loss_sum
        learned[task.class_index][i, task.repetition] = num_learned
        fit_seconds[task.class_index] += seconds

    bar = tqdm(total=len(tasks), desc="sweep trainings", unit="fit", disable=not progress, mininterval=0.5)
    with bar:
        if workers == 1:
            with muted(edge.log), threadpool_limits(limits=1):
                for task in tasks:
                    record(task, *train_one(spikes_by_class[task.class_index], task, settings))
                    bar.update()
        else:
            with ProcessPoolExecutor(
                max_workers=workers, mp_context=pool_context(), initializer=_init_worker,
                initargs=(spikes_by_class, settings),
            ) as pool:
                futures = [pool.submit(_run_task, task) for task in tasks]
                try:
                    for future in as_completed(futures):
                        record(*future.result())
                        bar.update()
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
    return loss_sums, learned, fit_seconds, workers


def sweep_classes(
    spikes_by_class: dict[int, np.ndarray],
    names: dict[int, str],
    neurons_per_class: list[int],
    repetitions: int,
    settings: TrainingSettings,
    jobs: int = 0,
    progress: bool = True,
) -> tuple[list[ClassSweep], int, float]:
    """Every class's sweep, in the order of ``spikes_by_class``; also the workers used and wall seconds."""
    start = time.perf_counter()
    loss_sums, learned, fit_seconds, workers = run_trainings(
        spikes_by_class, neurons_per_class, repetitions, settings, jobs=jobs, progress=progress
    )
    wall = time.perf_counter() - start
    results = [
        ClassSweep(
            word=names[c], class_index=c, samples=len(x), neurons_per_class=list(neurons_per_class),
            loss_sums=loss_sums[c], learned=learned[c], fit_seconds=fit_seconds[c],
            short_values=[n for n in neurons_per_class if n > len(x)],
        )
        for c, x in spikes_by_class.items()
    ]
    return results, workers, wall
