"""New words on the device: the trained edge layer learns new classes from k shots each.

BrainChip's KWS edge tutorial ends with ``model.add_classes(3)`` on its trained 33-class edge
layer, then ``fit`` on samples of 'backward', 'follow' and 'forward' — words the extractor never
heard. For each seed of ``fewshot.seeds``:

1. the 33-class layer is trained as the table trains it (same order: :func:`table_train.shuffled`,
   same seeded initial weights), at ``fewshot.neurons_per_class`` (default: the table's plateau);
2. for each k of ``fewshot.shots``, a copy of it gets ``add_classes`` (the new classes after the
   old ones; their neurons' initial weights drawn with the seed, as :func:`edge.build_model`
   does) and is fitted on k samples per new word, drawn without replacement from the new words'
   training voices with the seed (nested: the 5 shots hold the 2), in a seeded order;
3. the layer's own predictions (the engine's ``predict_classes``) are scored on the new words'
   validation samples and on the old classes' validation samples, before ``add_classes`` and after
   the new words are learned: new-word accuracy, old-class accuracy and its loss (paired by seed),
   how often a new word is taken for an old class and the reverse.

Beside this arm (new words for unseen voices), every seed measures the tutorial's own one-person
test (``personal``) and a control with words the extractor heard (``heard``), see
:mod:`edgetune.edge.fewshot_arms`, at the headline layer size and at ``compare_neurons_per_class``.

The new words' spikes are forwarded here, through ``models/extractor.fbz``, not in the spikes
stage: ``data/spikes.npz`` and every stage after it stay as they are, whatever the new words.
Then each (seed, layer size) is one task on ``fewshot.jobs`` workers (:mod:`edgetune.edge.task_pool`):
the edge layer learns on one core, and the runs are the same on any number of workers.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgetune import paths, stats
from edgetune.edge import fewshot_arms as arms, layer as edge, spikes as spikes_stage, task_pool
from edgetune.atomic import write_json, write_text
from edgetune.dataset import KwsDataset
from edgetune.errors import EdgetuneError
from edgetune.logs import muted
from edgetune.data.new_words import load_new_words
from edgetune.extractor.check import load_extractor
from edgetune.params import FewshotParams, load_params
from edgetune.edge.spikefile import SpikeSet, load_spikes
from edgetune.timing import time_metrics_path

log = logging.getLogger(__name__)

SHOTS_STREAM, ORDER_STREAM = 1, 2  # seed components apart from the table's (3: the new neurons)
FIGURES = arms.FIGURES
PLOT_COLUMNS = ["shots", *[c for f in FIGURES for c in (f, f"{f}_ci95")]]


def layer_size(params: FewshotParams, table_path: Path) -> tuple[int, str]:
    """Neurons per class and where the number comes from."""
    if params.neurons_per_class != "plateau":
        return int(params.neurons_per_class), "fewshot.neurons_per_class"
    try:
        value = json.loads(table_path.read_text())["plateau_neurons_per_class"]
    except FileNotFoundError:
        raise EdgetuneError(f"{table_path}: not found; run the table stage first, or set fewshot.neurons_per_class "
                            "to a number") from None
    except (json.JSONDecodeError, KeyError, TypeError):
        raise EdgetuneError(f"{table_path}: no plateau_neurons_per_class; rerun dvc repro table, or set "
                            "fewshot.neurons_per_class to a number") from None
    return int(value), f"{table_path} plateau_neurons_per_class"


def chosen_words(words: list[str] | str, new: KwsDataset, old_classes: np.ndarray, origin: Path) -> KwsDataset:
    """The new words of ``fewshot.words`` only (``all``: every one, in the file's order), relabelled
    0..len(words)-1 in that order."""
    known = new.classes.tolist()
    words = known if words == "all" else words
    for word in words:
        if word not in known:
            where = " (an old class: the edge layer already knows it)" if word in old_classes.tolist() else ""
            raise EdgetuneError(f"fewshot.words: {word!r} is not among the new classes {known} of {origin}{where}")
    relabel = np.full(len(known), -1, np.int32)
    relabel[[known.index(w) for w in words]] = np.arange(len(words), dtype=np.int32)
    keep = {s: relabel[getattr(new, f"y_{s}")] >= 0 for s in ("train", "val")}

    def speakers(split: str):
        sp = getattr(new, f"speaker_{split}")
        return None if sp is None else np.asarray(sp)[keep[split]]

    return KwsDataset(new.x_train[keep["train"]], relabel[new.y_train[keep["train"]]], new.x_val[keep["val"]],
                      relabel[new.y_val[keep["val"]]], np.array(words), speakers("train"), speakers("val"), new.meta)


def forward_new(new: KwsDataset, extractor_path: Path, width: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Spikes of the new words' train and val samples, from the extractor the old spikes came from."""
    model = load_extractor(extractor_path, width)
    return (spikes_stage.forward_spikes(model, new.x_train, batch_size, extractor_path, "new words train"),
            spikes_stage.forward_spikes(model, new.x_val, batch_size, extractor_path, "new words val"))


def draw_shots(y: np.ndarray, words: list[str], k: int, seed: int) -> np.ndarray:
    """Indices of k training samples per word, without replacement, nested in k, in a seeded order."""
    picked = []
    for w, word in enumerate(words):
        own = np.flatnonzero(y == w)
        if k > len(own):
            raise EdgetuneError(f"fewshot.shots: {k} shots, but new class {word!r} has only {len(own)} training "
                                "samples; lower the value or give the class more samples")
        picked.append(own[np.random.default_rng([seed, SHOTS_STREAM, w]).permutation(len(own))[:k]])
    flat = np.concatenate(picked)
    return flat[np.random.default_rng([seed, ORDER_STREAM, k]).permutation(len(flat))]


def run_seed(config: edge.EdgeConfig, old: SpikeSet, new_x: tuple[np.ndarray, np.ndarray], new: KwsDataset | SpikeSet,
             shots: list[int], workdir: Path, base: tuple[Path, np.ndarray] | None = None) -> list[dict]:
    """One seed: the old classes' layer once (or ``base``, already trained), then every shot count on a copy of
    it; ``new``'s labels and classes are what is added (the new words, or the heard words' spikes)."""
    base = base or arms.train_base(config, old, workdir)
    (x_new_train, x_new_val), runs = new_x, []
    for k in shots:
        pick = draw_shots(new.y_train, new.classes.tolist(), k, config.seed)
        row = arms.learn_and_score(base, config, old, (x_new_train[pick], new.y_train[pick]), (x_new_val, new.y_val),
                                   new.num_classes)
        runs.append({"seed": config.seed, "shots": k, **row})
    return runs


def summarise(runs: list[dict], shots: list[int], words: list[str]) -> dict:
    """Rows keyed by shots: every figure as mean ± 95 % t-interval over the seeds."""
    rows = {}
    for k in shots:
        mine = [r for r in runs if r["shots"] == k]
        row = arms.summary(mine)
        row["new_per_word"] = {w: stats.estimate([r["new_per_word"][i] for r in mine]).as_dict()
                               for i, w in enumerate(words)}
        row["new_learned_neurons"] = float(np.mean([r["new_learned_neurons"] for r in mine]))
        rows[str(k)] = row
    return rows


def plot_csv(rows: dict) -> str:
    lines = [",".join(PLOT_COLUMNS)]
    for k, row in rows.items():
        cells = [k] + [f"{row[f][part]:.6f}" for f in FIGURES for part in ("mean", "ci95")]
        lines.append(",".join(cells).replace("nan", ""))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Arms:
    """What every seed measures beyond the unseen-voices arm (see :mod:`edgetune.edge.fewshot_arms`)."""

    persons: list[str]  # personal: the held-out persons with enough clips
    personal_sets: dict[int, list]  # seed → that seed's enrolment sets (forwarded once, in the parent)
    heard_old: SpikeSet | None  # heard: the old classes without the heard words
    heard: SpikeSet | None  # the heard words alone


@dataclass(frozen=True)
class Study:
    """Everything a (seed, layer size) measurement reads: sent once to each worker."""

    p: FewshotParams
    learning_competition: float
    num_weights: int
    old: SpikeSet
    new: KwsDataset
    new_x: tuple[np.ndarray, np.ndarray]  # the new words' train and val spikes
    arms: Arms


def measure_one(study: Study, task: tuple[int, int]) -> dict[str, list[dict]]:
    """One seed at one layer size: the old classes' layer trained once, then every arm's runs on copies of it."""
    seed, npc = task
    p, old, new, extra = study.p, study.old, study.new, study.arms
    config = edge.EdgeConfig(old.num_classes, npc, study.num_weights, study.learning_competition, seed)
    with tempfile.TemporaryDirectory(prefix="fewshot-") as tmp, muted(edge.log):
        base = arms.train_base(config, old, Path(tmp))
        return {
            "unseen": run_seed(config, old, study.new_x, new, p.shots, Path(tmp), base),
            "personal": arms.personal_runs(base, config, old, extra.personal_sets.get(seed, []), study.new_x[1],
                                           new.y_val),
            "heard": [] if extra.heard is None else heard_runs(p, extra, config, Path(tmp)),
        }


def measure(study: Study, sizes: list[int], jobs: int) -> dict[str, dict[int, list[dict]]]:
    """Runs per arm and layer size, over the seeds, on ``fewshot.jobs`` workers (the same runs on any number)."""
    for npc in sizes:
        edge.check_config(edge.EdgeConfig(study.old.num_classes, npc, study.num_weights, study.learning_competition,
                                          study.p.seeds[0]), study.old.width)
    tasks = [(seed, npc) for seed in study.p.seeds for npc in sizes]
    results = task_pool.map_tasks(measure_one, study, tasks, jobs, "fewshot.jobs", "fewshot", unit="layer")
    runs = {arm: {npc: [] for npc in sizes} for arm in ("unseen", "personal", "heard")}
    for (seed, npc), result in zip(tasks, results):
        for arm, rows in result.items():
            runs[arm][npc] += rows
        log.info("seed %d, %d neurons per class: %s", seed, npc, ", ".join(
            f"{r['shots']} shots → new {r['new_accuracy']:.3f}, old {r['old_accuracy']:.3f}" for r in result["unseen"]))
    return runs


def heard_runs(p: FewshotParams, extra: Arms, config: edge.EdgeConfig, workdir: Path) -> list[dict]:
    """The heard words left out of the layer, then added from k shots of their training samples."""
    old, heard = extra.heard_old, extra.heard
    config = edge.EdgeConfig(old.num_classes, config.neurons_per_class, config.num_weights,
                             config.learning_competition, config.seed)
    return run_seed(config, old, (heard.x_train, heard.x_val), heard, p.shots, workdir)


def personal_result(p: FewshotParams, persons: list[str], sizes: list[int], runs: dict[int, list[dict]]) -> dict:
    protocol = {"utterances": p.personal_utterances, "augment": p.personal_augment,
                "test_clips_min": p.personal_test_clips}
    if not persons:
        need = p.personal_utterances + p.personal_test_clips
        return {"available": False, **protocol,
                "reason": f"no held-out speaker group has {need} validation samples of every new class"}
    return {"available": True, **protocol, "persons": persons,
            "test_clips": {q: next(r["test_clips"] for r in runs[sizes[0]] if r["person"] == q) for q in persons},
            "by_size": {str(n): arms.personal_summary(runs[n]) for n in sizes}}


def heard_result(p: FewshotParams, sizes: list[int], runs: dict) -> dict:
    """The control's rows, and its paired gap (by seed) over the new words at the most shots, first size."""
    k, npc = max(p.shots), sizes[0]
    at_k = {arm: [r["new_accuracy"] for r in runs[arm][npc] if r["shots"] == k] for arm in ("heard", "unseen")}
    gap = stats.paired_gap(at_k["heard"], at_k["unseen"])
    return {"words": list(p.heard_words),
            "by_size": {str(n): summarise(runs["heard"][n], p.shots, list(p.heard_words)) for n in sizes},
            "gap_over_new": {"shots": k, "neurons_per_class": npc, **gap.as_dict()},
            "extractor_limits_new_words": stats.significantly_below(gap)}


def run(params_path: str | Path = paths.PARAMS, spikes_path: str | Path = paths.SPIKES,
        new_words_path: str | Path = paths.NEW_WORDS, extractor_path: str | Path = paths.EXTRACTOR,
        weights_path: str | Path = paths.NUM_WEIGHTS, table_path: str | Path = paths.TABLE_METRICS,
        metrics_path: str | Path = paths.FEWSHOT_METRICS, plot_path: str | Path = paths.FEWSHOT_CSV) -> dict:
    start = time.perf_counter()
    params = load_params(params_path)
    p = params.fewshot
    new = load_new_words(new_words_path)
    if isinstance(new, str):  # no new words with this data source: said, and the pipeline goes on
        log.warning("fewshot: no new words, nothing measured: %s", new)
        write_json(metrics_path, {"fewshot": {"available": False, "reason": new}})
        write_text(plot_path, ",".join(PLOT_COLUMNS) + "\n")
        write_json(time_metrics_path(metrics_path, "fewshot"), {"fewshot_seconds": 0.0})
        return {"available": False, "reason": new}
    old = load_spikes(spikes_path)
    new = chosen_words(p.words, new, old.classes, Path(new_words_path))
    words = new.classes.tolist()
    for k in p.shots:  # every shot count checked before anything is trained
        draw_shots(new.y_train, words, k, p.seeds[0])
    heard_old, heard = arms.heard_split(old, p.heard_words, Path(spikes_path)) if p.heard_words else (None, None)
    for k in p.shots if heard is not None else []:
        draw_shots(heard.y_train, heard.classes.tolist(), k, p.seeds[0])
    npc, npc_source = layer_size(p, Path(table_path))
    sizes = [npc, *[n for n in p.compare_neurons_per_class if n != npc]]
    num_weights = edge.load_num_weights(weights_path)
    forward_start = time.perf_counter()
    new_x = forward_new(new, Path(extractor_path), old.width, params.spikes.batch_size)
    forward_seconds = time.perf_counter() - forward_start
    persons = arms.personal_persons(new.speaker_val, new.y_val, len(words), p.personal_utterances + p.personal_test_clips)
    personal_sets = {}
    if persons:
        model = load_extractor(Path(extractor_path), old.width)
        forward = lambda x: spikes_stage.forward_spikes(model, x, params.spikes.batch_size,  # noqa: E731
                                                        extractor_path, "personal enrolment")
        personal_sets = {seed: arms.personal_sets(new.speaker_val, new.y_val, new.x_val, persons, p.personal_utterances,
                                                  p.personal_augment, seed, forward) for seed in p.seeds}
    study = Study(p, params.table.learning_competition, num_weights, old, new, new_x,
                  Arms(persons, personal_sets, heard_old, heard))
    runs = measure(study, sizes, p.jobs)
    rows = summarise(runs["unseen"][npc], p.shots, words)
    result = {
        "available": True, "words": words, "old_classes": old.num_classes, "neurons_per_class": npc,
        "neurons_per_class_from": npc_source, "num_weights": num_weights,
        "learning_competition": params.table.learning_competition, "seeds": list(p.seeds),
        "new_train_samples": {w: int(np.sum(new.y_train == i)) for i, w in enumerate(words)},
        "new_val_samples": int(len(new.y_val)), "old_val_samples": int(len(old.y_val)),
        "interval": stats.INTERVAL_NAME, "rows": rows, "runs": runs["unseen"][npc], "sizes": sizes,
        "unseen_other_sizes": {str(n): summarise(runs["unseen"][n], p.shots, words) for n in sizes[1:]},
        "personal": personal_result(p, persons, sizes, runs["personal"]),
        "heard": heard_result(p, sizes, runs) if heard else {"words": []},
    }
    write_json(metrics_path, {"fewshot": result})  # one top key: its names are unique among metrics files
    write_text(plot_path, plot_csv(rows))
    seconds = time.perf_counter() - start
    write_json(time_metrics_path(metrics_path, "fewshot"),
               {"fewshot_seconds": round(seconds, 1), "new_words_forward_seconds": round(forward_seconds, 1)})
    log.info("%d shot counts × %d seeds at %d neurons per class in %.1f s", len(p.shots), len(p.seeds),
             npc, seconds)
    return result
