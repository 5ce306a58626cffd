"""Tutorial §4: loss and learned neurons against neurons per class, for any or every class.

For one class, the tutorial's ``compute_losses`` trains a fresh edge layer of ``n`` neurons
(``num_classes=1``) on the class's shuffled samples, then measures

* loss = Σ (num_weights − max potential over the n neurons) / samples — how far the best
  matching neuron is from a perfect match, on average;
* learned = number of neurons whose ``threshold_learning`` > 0,

repeated ``repetitions`` times and keeping the minimum. Here each (class, value, repetition)
training is one task on a pool of worker processes, seeded by
``SeedSequence([seed, class_index, value, repetition])`` — the class's index in the spikes
file, not its position in ``sweep.words`` — so a result depends neither on the number of workers,
nor on the order tasks finish, nor on which other words are swept. Training is the real engine
through :func:`edgetune.edge.train`; max potentials come from :func:`edgetune.edge.class_max_potentials`
(numpy, checked equal to the engine's ``forward``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from edgetune.edge import layer as edge, knee
from edgetune.errors import EdgetuneError
from edgetune.logs import muted
from edgetune.timing import time_metrics_path

log = logging.getLogger("edgetune.sweep")


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
    logging.getLogger("edgetune.edge").setLevel(logging.ERROR)


def _run_task(task: SweepTask) -> tuple[SweepTask, int, int, float]:
    assert _WORKER_SETTINGS is not None
    return (task, *train_one(_WORKER_SPIKES[task.class_index], task, _WORKER_SETTINGS))


def resolve_jobs(jobs: int, tasks: int) -> int:
    """Workers to start: ``jobs`` (0 = every core this process may use), never more than tasks."""
    if jobs < 0:
        raise EdgetuneError(f"sweep.jobs = {jobs}: must be ≥ 0 (0 = all cores)")
    if jobs == 0:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(jobs, tasks))


def plan_tasks(class_indices: list[int], neurons_per_class: list[int], repetitions: int) -> list[SweepTask]:
    """All trainings, biggest layers first: long tasks start early, short ones fill the gaps at the end."""
    tasks = [SweepTask(c, n, r) for c in class_indices for n in neurons_per_class for r in range(repetitions)]
    return sorted(tasks, key=lambda t: (-t.neurons_per_class, t.class_index, t.repetition))


def _pool_context():
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
                max_workers=workers, mp_context=_pool_context(), initializer=_init_worker,
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


# --- the stage --------------------------------------------------------------------------------
CSV_COLUMNS = ["neurons_per_class", "loss_min", "loss_mean", "loss_std", "learned_min", "learned_mean"]


def select_classes(
    words, classes: list[str], y_train: np.ndarray, spikes_path, params_path="params.yaml"
) -> tuple[list[int], list[str]]:
    """Class indices to sweep (in the order of ``sweep.words``; file order for ``all``), and skipped names.

    Unknown words are an error. A class without training samples cannot be swept: an error when
    it was asked for by name, a warning (and listed as skipped) under ``all``.
    """
    counts = np.bincount(y_train, minlength=len(classes))
    if words == "all":
        chosen = [i for i in range(len(classes)) if counts[i] > 0]
        skipped = [classes[i] for i in range(len(classes)) if counts[i] == 0]
        if skipped:
            log.warning("classes without training samples are skipped: %s", ", ".join(skipped))
        if not chosen:
            raise EdgetuneError(f"{spikes_path}: no class has training samples; rerun the spikes stage")
        return chosen, skipped
    unknown = [w for w in words if w not in classes]
    if unknown:
        raise EdgetuneError(
            f"{params_path}: sweep.words: {', '.join(map(repr, unknown))} not among the classes of {spikes_path} "
            f"({', '.join(classes)}); fix sweep.words or use 'all'"
        )
    chosen = [classes.index(w) for w in words]
    empty = [classes[i] for i in chosen if counts[i] == 0]
    if empty:
        raise EdgetuneError(
            f"{params_path}: sweep.words: {', '.join(map(repr, empty))} has no training samples in {spikes_path}; "
            "remove it from sweep.words"
        )
    return chosen, []


def file_stem(word: str) -> str:
    """A class name as a file name: anything but letters, digits, '_' and '-' becomes '_'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", word) or "_"


def warn_short_class(word: str, samples: int, neurons_per_class: list[int]) -> list[int]:
    """The tutorial's warning: more neurons than samples wastes the extra neurons (one learns per sample)."""
    short = [n for n in neurons_per_class if n > samples]
    if short:
        log.warning(
            "class '%s' has %d training samples, fewer than neurons_per_class %s: only one neuron learns per "
            "sample, so the extra neurons are wasted (these values still run)",
            word, samples, ", ".join(map(str, short)),
        )
    return short


def curve_table(result: ClassSweep):
    """The per-class CSV: min (the tutorial's statistic), mean and spread over repetitions."""
    import pandas as pd

    losses = result.losses
    return pd.DataFrame(
        {
            "neurons_per_class": result.neurons_per_class,
            "loss_min": losses.min(axis=1),
            "loss_mean": losses.mean(axis=1),
            "loss_std": losses.std(axis=1),
            "learned_min": result.learned.min(axis=1),
            "learned_mean": result.learned.mean(axis=1),
        },
        columns=CSV_COLUMNS,
    )


def class_knees(table, sensitivity: float) -> dict[str, knee.Knee]:
    npc = table["neurons_per_class"].to_numpy()
    return {
        "loss": knee.find_knee(npc, table["loss_min"].to_numpy(), "convex", "decreasing", sensitivity),
        "learned": knee.find_knee(npc, table["learned_min"].to_numpy(), "concave", "increasing", sensitivity),
    }


def summarise(knees_by_word: dict[str, dict[str, knee.Knee]]) -> dict:
    """Median knee over classes, per curve; null with a reason when no class has one."""
    summary: dict = {"classes": len(knees_by_word)}
    for curve in ("loss", "learned"):
        found = [k[curve].value for k in knees_by_word.values() if k[curve].found]
        summary[f"classes_with_{curve}_knee"] = len(found)
        summary[f"{curve}_knee_median"] = float(np.median(found)) if found else None
        summary[f"{curve}_knee_reason"] = None if found else f"no class has a knee on its {curve} curve"
    return summary


def plot_class(path, word: str, table, knees: dict[str, knee.Knee], num_weights: int, repetitions: int) -> None:
    """PNG of one class: loss and learned neurons against neurons per class (log x), knees marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = table["neurons_per_class"].to_numpy()
    fig, (ax_loss, ax_learned) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    ax_loss.plot(x, table["loss_min"], marker="o", ms=3, label=f"min of {repetitions}")
    ax_loss.fill_between(
        x, table["loss_mean"] - table["loss_std"], table["loss_mean"] + table["loss_std"],
        alpha=0.25, label="mean ± std",
    )
    ax_loss.set_ylabel(f"loss per sample ({num_weights} − max potential)")
    ax_learned.plot(x, table["learned_min"], marker="o", ms=3, label=f"min of {repetitions}")
    ax_learned.plot(x, table["learned_mean"], ls=":", label="mean")
    ax_learned.set_ylabel("neurons that learned")
    for ax, curve, what in ((ax_loss, "loss", "Loss"), (ax_learned, "learned", "Neurons that learned")):
        k = knees[curve]
        if k.found:
            ax.axvline(k.value, color="tab:red", ls="--", lw=1, label=f"knee: {k.value}")
            ax.plot([k.value], [k.y], "o", color="tab:red")
        else:
            ax.text(0.02, 0.02, "no knee found", transform=ax.transAxes, color="tab:red")
        ax.set_xscale("log")
        ax.set_xlabel("neurons per class")
        ax.set_title(f"{what} for samples of class '{word}'")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.13, top=0.91, wspace=0.2)  # fixed: tight_layout doubled the cost
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


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


def run(
    params_path="params.yaml",
    spikes_path="data/spikes.npz",
    weights_path="metrics/weights.json",
    plots_dir="plots/sweep",
    curves_path="plots/sweep.csv",
    metrics_path="metrics/sweep.json",
    progress: bool = True,
) -> dict:
    """The sweep stage: read spikes and num_weights, train, find knees, write CSVs, PNGs and metrics."""
    from edgetune.atomic import atomic_directory, atomic_path, write_json
    from edgetune.params import load_params
    from edgetune.edge.spikefile import load_spikes

    stage_start = time.perf_counter()
    params = load_params(params_path).sweep
    spikes = load_spikes(spikes_path)
    num_weights = edge.load_num_weights(weights_path)
    classes = [str(c) for c in spikes.classes]
    npc = list(params.neurons_per_class)
    if not 1 <= num_weights <= spikes.width:
        raise EdgetuneError(
            f"{weights_path}: num_weights = {num_weights} exceeds the spike width {spikes.width} of {spikes_path}; "
            "rerun dvc repro weights on these spikes"
        )
    chosen, skipped = select_classes(params.words, classes, spikes.y_train, spikes_path, params_path)
    stems = {c: file_stem(classes[c]) for c in chosen}
    if len(set(stems.values())) != len(stems):
        raise EdgetuneError(f"{spikes_path}: class names {[classes[c] for c in chosen]} collide as file names")
    spikes_by_class = {c: np.ascontiguousarray(spikes.x_train[spikes.y_train == c]) for c in chosen}
    for c, x in spikes_by_class.items():
        warn_short_class(classes[c], len(x), npc)
    settings = TrainingSettings(num_weights, params.learning_competition, params.seed)
    log.info(
        "sweeping %d class(es) × %d values × %d repetitions = %d trainings (num_weights %d)",
        len(chosen), len(npc), params.repetitions, len(chosen) * len(npc) * params.repetitions, num_weights,
    )
    results, workers, wall = sweep_classes(
        spikes_by_class, {c: classes[c] for c in chosen}, npc, params.repetitions, settings,
        jobs=params.jobs, progress=progress,
    )
    log.info("%d trainings on %d worker(s) in %.1f s", len(chosen) * len(npc) * params.repetitions, workers, wall)

    import pandas as pd

    tables, knees_by_word, per_class = [], {}, {}
    with atomic_directory(plots_dir) as out:
        for result in results:
            table = curve_table(result)
            knees = class_knees(table, params.knee_sensitivity)
            table.to_csv(out / f"{stems[result.class_index]}.csv", index=False, float_format="%.6g")
            plot_class(out / f"{stems[result.class_index]}.png", result.word, table, knees, num_weights, params.repetitions)
            tables.append(table.assign(word=result.word)[["word", *CSV_COLUMNS]])
            knees_by_word[result.word] = knees
            per_class[result.word] = {
                "samples": result.samples,
                "fewer_samples_than": result.short_values,
                **{f"{curve}_knee": k.value for curve, k in knees.items()},
                **{f"{curve}_at_knee": k.y for curve, k in knees.items()},
                **{f"{curve}_knee_reason": k.reason for curve, k in knees.items()},
            }
            for curve, k in knees.items():
                if k.found:
                    log.info("class '%s': %s knee at %d neurons per class", result.word, curve, k.value)
                else:
                    log.info("class '%s': %s curve — %s", result.word, curve, k.reason)
    with atomic_path(curves_path, suffix=".csv") as tmp:
        pd.concat(tables, ignore_index=True).to_csv(tmp, index=False, float_format="%.6g")
    metrics = {
        "sweep_num_weights": num_weights,
        "sweep_neurons_per_class": npc,
        "repetitions": params.repetitions,
        "trainings": len(chosen) * len(npc) * params.repetitions,
        "classes": per_class,
        "skipped_classes": skipped,
        "summary": summarise(knees_by_word),
        "jobs": workers,
    }
    write_json(metrics_path, metrics)
    write_json(time_metrics_path(metrics_path, "sweep"), {
        "sweep_wall_seconds": round(wall, 2),  # the trainings, pool start-up included
        "sweep_stage_seconds": round(time.perf_counter() - stage_start, 2),  # + loading, knees, CSVs, PNGs
        "sweep_fit_seconds": round(sum(r.fit_seconds for r in results), 2),
    })
    return metrics
