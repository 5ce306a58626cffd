"""Tutorial §4: loss and learned neurons against neurons per class, for any or every class.

For one class, the tutorial's ``compute_losses`` trains a fresh edge layer of ``n`` neurons
(``num_classes=1``) on the class's shuffled samples, then measures

* loss = Σ (num_weights − max potential over the n neurons) / samples — how far the best
  matching neuron is from a perfect match, on average;
* learned = number of neurons whose ``threshold_learning`` > 0,

repeated ``repetitions`` times and keeping the minimum. The trainings run on a pool of worker
processes (:mod:`edgetune.edge.sweep_pool`), seeded by the class's index in the spikes file, not
its position in ``sweep.words``, so a result does not depend on which other words are swept.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from edgetune import paths
from edgetune.edge import layer as edge
from edgetune.edge.sweep_curves import CSV_COLUMNS, class_knees, curve_table, file_stem, summarise
from edgetune.edge.sweep_figures import plot_class
from edgetune.edge.sweep_pool import TrainingSettings, sweep_classes
from edgetune.errors import EdgetuneError
from edgetune.timing import time_metrics_path

log = logging.getLogger(__name__)


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


def run(
    params_path=paths.PARAMS,
    spikes_path=paths.SPIKES,
    weights_path=paths.WEIGHTS_METRICS,
    plots_dir=paths.SWEEP_PLOTS,
    curves_path=paths.SWEEP_CURVES,
    metrics_path=paths.SWEEP_METRICS,
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
    }
    write_json(metrics_path, metrics)
    write_json(time_metrics_path(metrics_path, "sweep"), {
        "sweep_wall_seconds": round(wall, 2),  # the trainings, pool start-up included
        "sweep_stage_seconds": round(time.perf_counter() - stage_start, 2),  # + loading, knees, CSVs, PNGs
        "sweep_fit_seconds": round(sum(r.fit_seconds for r in results), 2),
        "sweep_jobs": workers,  # how the run went, like its times: it follows the machine's cores, not the results
    })
    return metrics
