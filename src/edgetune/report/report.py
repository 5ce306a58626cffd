"""The report stage: the tutorial, regenerated from this run's metrics and plots → ``report/``.

Writes ``report/report.md`` (figures as relative links), ``report/report.html`` (the same text
with every figure embedded as a data URI, so it is one file to mail or archive) and
``report/figures/*.png``: the stages' own PNGs copied, plus the figures that answer the two
questions the tutorial leaves open, drawn here from the same numbers.

Nothing in the report is typed by hand: every number comes from a ``metrics/*.json`` or
``plots/*.csv`` file of an upstream stage, so ``dvc repro`` keeps it true and ``dvc exp`` gives
each experiment its own report. The folder is built beside ``report/`` and swapped in whole
(:func:`edgetune.atomic.atomic_directory`); same inputs give the same bytes.

A difference counts only when it is larger than the seeds' own scatter: every accuracy is a mean
over seeds with its 95 % interval, and a gap is *indistinguishable* when its paired interval
includes zero (:mod:`edgetune.stats`, applied by the weights and table stages; the report reads
their verdicts and states the numbers).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from edgetune.edge import chance, hardware
from edgetune.report import report_confusion
from edgetune.errors import EdgetuneError
from edgetune.edge.table_markdown import check_sentence

log = logging.getLogger("edgetune.report")

OUT_DIR = Path("report")
FIGURES = "figures"
TUTORIAL_FACTOR = 1.2  # the tutorial's "1.2 x median of number of spikes"


@dataclass(frozen=True)
class Input:
    """An upstream file the report reads, and the stage that writes it."""

    path: str
    stage: str


# Every file the report reads (dvc.yaml lists the same as the stage's deps).
INPUTS = {
    "data": Input("metrics/data.json", "fetch"),
    "extractor": Input("metrics/extractor.json", "extractor"),
    "spikes": Input("metrics/spikes.json", "spikes"),
    "spike_histogram_png": Input("plots/spikes/count_histogram.png", "spikes"),
    "spike_per_class_png": Input("plots/spikes/per_class.png", "spikes"),
    "spike_rates_png": Input("plots/spikes/neuron_rates.png", "spikes"),
    "weights": Input("metrics/weights.json", "weights"),
    "factor_curve": Input("plots/weights/factor_curve.csv", "weights"),
    "factor_curve_png": Input("plots/weights/factor_curve.png", "weights"),
    "sweep": Input("metrics/sweep.json", "sweep"),
    "sweep_curves": Input("plots/sweep.csv", "sweep"),
    "sweep_dir": Input("plots/sweep", "sweep"),
    "table": Input("metrics/table.json", "table"),
    "table_time": Input("metrics/time/table.json", "table"),
    "table_png": Input("plots/table.png", "table"),
    "extractor_confusion": Input("plots/confusion/extractor.csv", "extractor"),
    "edge_confusion": Input("plots/confusion/edge.csv", "confusion"),
}


def _missing(inp: Input, path: Path) -> str:
    return f"{path}: not found; run the {inp.stage} stage first (dvc repro {inp.stage})"


def check_inputs(root: Path) -> None:
    """Every input present, or one error naming each missing file and the stage that writes it."""
    missing = [_missing(inp, root / inp.path) for inp in INPUTS.values() if not (root / inp.path).exists()]
    if missing:
        raise EdgetuneError("; ".join(missing))


def load_json(root: Path, key: str) -> dict:
    inp = INPUTS[key]
    path = root / inp.path
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgetuneError(_missing(inp, path)) from None
    except json.JSONDecodeError as exc:
        raise EdgetuneError(f"{path}: not valid JSON ({exc}); rerun dvc repro {inp.stage}") from None
    if not isinstance(doc, dict):
        raise EdgetuneError(f"{path}: expected a JSON object; rerun dvc repro {inp.stage}")
    return doc


def load_csv(root: Path, key: str, columns: list[str]) -> pd.DataFrame:
    inp = INPUTS[key]
    path = root / inp.path
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise EdgetuneError(_missing(inp, path)) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise EdgetuneError(f"{path}: not a readable CSV ({exc}); rerun dvc repro {inp.stage}") from None
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise EdgetuneError(f"{path}: no column {', '.join(absent)}; it is older than this code, rerun dvc repro {inp.stage}")
    return frame


def need(doc: dict, dotted: str, key: str):
    """``doc[a][b]`` for ``"a.b"``; a missing key is an error naming the file and the stage to rerun.

    Only the keys the report uses are required: extra keys (a newer stage) are ignored.
    """
    value = doc
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            inp = INPUTS[key]
            raise EdgetuneError(f"{inp.path}: no '{dotted}'; it is older than this code, rerun dvc repro {inp.stage}")
        value = value[part]
    return value


# --- number formats -------------------------------------------------------------------------
def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def pct_pm(mean: float, half: float) -> str:
    """A mean with its 95 % interval, in percent: ``54.3 ± 0.4 %``."""
    return f"{100 * mean:.1f} ± {100 * half:.1f} %"


def points_pm(gap: float, half: float) -> str:
    return f"{100 * gap:.1f} ± {100 * half:.1f} points"


def points(x: float) -> str:
    """A difference of accuracies in percentage points."""
    return f"{100 * x:.1f} point{'' if round(100 * x, 1) == 1 else 's'}"


def num(x, digits: int = 4) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def md_table(header: list[str], rows: list[list], align: str | None = None) -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(marks[a] for a in align) + "|",
        *("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows),
        "",
    ]


def image(name: str, alt: str) -> str:
    return f"![{alt}]({FIGURES}/{name})"


# --- the two questions ------------------------------------------------------------------------
@dataclass(frozen=True)
class FactorAnswer:
    """Question 1: does factor × median (the tutorial's 1.2) do as well as the best factor measured?"""

    factor: float
    tutorial_measured: bool  # False: 1.2 is not among weights.factors, the chosen factor stands in
    num_weights: int
    accuracy: float
    accuracy_ci: float
    best_factor: float
    best_num_weights: int
    best_accuracy: float
    best_ci: float
    gap: float  # best − this factor, paired by seed
    gap_ci: float
    below: bool  # significantly below the best
    seeds: int
    neurons_per_class: int

    @property
    def verdict(self) -> str:
        """best | indistinguishable | below."""
        if self.factor == self.best_factor:
            return "best"
        return "below" if self.below else "indistinguishable"


def answer_factor(curve: pd.DataFrame, chosen_factor: float, seeds: int, neurons_per_class: int) -> FactorAnswer:
    """Compare the tutorial's factor (or the chosen one, if 1.2 was not measured) with the best factor.

    Best: the highest mean validation accuracy, ties to the smallest factor — the weights stage's rule;
    the gap and whether it is significant are the weights stage's, read from its curve.
    """
    measured = bool(np.isclose(curve["factor"], TUTORIAL_FACTOR).any())
    factor = TUTORIAL_FACTOR if measured else chosen_factor
    row = curve[np.isclose(curve["factor"], factor)].iloc[0]
    best_acc = curve["val_accuracy"].max()
    best = curve[curve["val_accuracy"] == best_acc].sort_values("factor").iloc[0]
    return FactorAnswer(
        factor=float(factor), tutorial_measured=measured, num_weights=int(row["num_weights"]),
        accuracy=float(row["val_accuracy"]), accuracy_ci=float(row["val_accuracy_ci95"]),
        best_factor=float(best["factor"]), best_num_weights=int(best["num_weights"]), best_accuracy=float(best_acc),
        best_ci=float(best["val_accuracy_ci95"]), gap=float(row["gap_to_best"]), gap_ci=float(row["gap_to_best_ci95"]),
        below=bool(row["below_best"]), seeds=seeds, neurons_per_class=neurons_per_class,
    )


@dataclass(frozen=True)
class KneeAnswer:
    """Question 2, for one sweep curve: does its knee sit near the table's plateau?"""

    curve: str  # "loss" or "learned"
    knee: float | None  # median over the swept classes that have one
    classes_with_knee: int
    classes: int
    reason: str | None  # why there is no knee
    plateau: int
    values: list[int]  # the table's neurons-per-class values
    verdict: str  # near | below | above | below_range | above_range | no_knee
    accuracy_at_knee: float | None  # the table's, interpolated on log x; None outside its range
    time_ratio_at_knee: float | None
    nearest: int | None = None  # the table value nearest the knee (log x); None outside the table's range
    nearest_gap: float | None = None  # its gap to the best value, paired by seed, and the interval
    nearest_gap_ci: float | None = None
    nearest_below: bool | None = None  # significantly below the best

    @property
    def ratio(self) -> float | None:
        return None if self.knee is None else self.knee / self.plateau


def log_interp(x: float, values: list[int], ys: list[float]) -> float | None:
    """``ys`` at ``x``, linear in log10(neurons per class) between the table's values; None outside."""
    if not values[0] <= x <= values[-1]:
        return None
    return float(np.interp(math.log10(x), np.log10(values), ys))


def knee_verdict(knee: float, values: list[int], plateau: int) -> str:
    """Where the knee sits against the plateau on the table's grid of values.

    near: above the last value short of the plateau and at most the next value after it, i.e. the
    table cannot tell the two apart; below / above: further; *_range: outside the table's values,
    where the table says nothing about accuracy.
    """
    i = values.index(plateau)
    lower = values[i - 1] if i > 0 else None
    upper = values[i + 1] if i + 1 < len(values) else plateau
    if knee < values[0]:
        return "below_range" if lower is None else "below"
    if knee > values[-1]:
        return "above_range" if upper == plateau else "above"
    if (lower is None or knee > lower) and knee <= upper:
        return "near"
    return "below" if lower is not None and knee <= lower else "above"


def nearest_value(knee: float, values: list[int]) -> int | None:
    """The table value nearest ``knee`` on a log axis; None outside the table's range."""
    if not values[0] <= knee <= values[-1]:
        return None
    return min(values, key=lambda v: abs(math.log(v) - math.log(knee)))


def answer_knees(sweep: dict, table: dict, table_time: dict) -> list[KneeAnswer]:
    values = [int(v) for v in need(table, "neurons_per_class", "table")]
    rows = need(table, "rows", "table")
    accs = [need(rows, f"{v}.val_accuracy", "table") for v in values]
    ratios = [need(table_time, f"rows.{v}.time_ratio_model", "table_time") for v in values]
    plateau = int(need(table, "plateau_neurons_per_class", "table"))
    summary = need(sweep, "summary", "sweep")
    answers = []
    for curve in ("loss", "learned"):
        knee = need(summary, f"{curve}_knee_median", "sweep")
        verdict = "no_knee" if knee is None else knee_verdict(knee, values, plateau)
        near = None if knee is None else nearest_value(knee, values)
        row = rows[str(near)] if near is not None else {}
        answers.append(KneeAnswer(
            curve=curve, knee=knee, classes_with_knee=int(need(summary, f"classes_with_{curve}_knee", "sweep")),
            classes=int(need(summary, "classes", "sweep")), reason=summary.get(f"{curve}_knee_reason"),
            plateau=plateau, values=values, verdict=verdict,
            accuracy_at_knee=None if knee is None else log_interp(knee, values, accs),
            time_ratio_at_knee=None if knee is None else log_interp(knee, values, ratios),
            nearest=near, nearest_gap=row.get("gap_to_best"), nearest_gap_ci=row.get("gap_to_best_ci95"),
            nearest_below=row.get("below_best"),
        ))
    return answers


# --- sections ---------------------------------------------------------------------------------
def data_section(data: dict) -> list[str]:
    counts = need(data, "counts", "data")
    samples = need(data, "samples", "data")
    voices = data.get("voices") or {}
    classes = sorted(set(counts.get("train", {})) | set(counts.get("val", {})))

    def per_class(split: str) -> str:
        c = list(counts.get(split, {}).values())
        return "n/a" if not c else (str(min(c)) if min(c) == max(c) else f"{min(c)}–{max(c)}")

    def voices_of(split: str) -> str:
        v = voices.get(split)
        return "not recorded" if v is None else str(v)

    return [
        "## 1. Data",
        "",
        f"Source **{need(data, 'source', 'data')}**: {need(data, 'num_classes', 'data')} classes, "
        f"{samples['train']} training and {samples['val']} validation samples.",
        "",
        *md_table(["", "train", "validation"], [
            ["samples", samples["train"], samples["val"]],
            ["samples per class", per_class("train"), per_class("val")],
            ["voices (speakers)", voices_of("train"), voices_of("val")],
        ]),
        "Classes: " + ", ".join(f"`{c}`" for c in classes) + ".",
        "",
    ]


def extractor_section(ext: dict) -> list[str]:
    source = need(ext, "extractor_source", "extractor")
    rows = [
        ["float model", pct(ext.get("float_val_accuracy"))],
        ["quantized model", pct(ext.get("quantized_val_accuracy"))],
        ["Akida model (converted)", pct(ext.get("akida_val_accuracy"))],
    ]
    missing = [r[0] for r in rows if r[1] == "n/a"]
    lines = [
        "## 2. Feature extractor",
        "",
        f"Source **{source}**. Validation accuracy of the full classifier ({ext.get('val_samples', 'n/a')} validation samples):",
        "",
        *md_table(["model", "validation accuracy"], rows),
    ]
    if missing:
        lines += [f"n/a: not measured for source `{source}` (no training run to measure it on).", ""]
    lines += [
        "Its output, the binary spikes the edge layer learns from:",
        "",
        *md_table(["spike output", "value"], [
            ["spike width (neurons)", need(ext, "spike_width", "extractor")],
            ["spikes per sample, median", num(need(ext, "val_median_spikes", "extractor"))],
            ["spikes per sample, mean", num(ext.get("mean_spikes"))],
            ["firing fraction", pct(ext.get("firing_fraction"))],
            ["neurons that never fire", num(ext.get("neurons_never_firing"))],
            ["neurons that always fire", num(ext.get("neurons_always_firing"))],
        ]),
    ]
    return lines


def spikes_section(sp: dict) -> list[str]:
    width = need(sp, "width", "spikes")
    splits = {"train": need(sp, "train", "spikes"), "validation": need(sp, "val", "spikes"),
              "all": need(sp, "overall", "spikes")}
    fields = [("samples", "samples"), ("median", "median"), ("mean", "mean"), ("p10", "10th percentile"),
              ("p90", "90th percentile"), ("min", "min"), ("max", "max"), ("zero_spike_samples", "samples without a spike")]
    rows = [[label, *(num(s.get(k)) for s in splits.values())] for k, label in fields]
    neurons = need(sp, "neurons", "spikes")
    medians = {c: m for c, m in need(sp, "per_class_median", "spikes").get("train", {}).items() if m is not None}
    ordered = sorted(medians.items(), key=lambda kv: (kv[1], kv[0]))
    lines = [
        "## 3. Spike distribution",
        "",
        "The tutorial sets num_weights from the median number of spikes per sample and leaves the "
        "distribution behind it unexplored; here it is, over both splits.",
        "",
        *md_table(["spikes per sample", *splits], rows),
        f"Of the {width} spike neurons, {neurons.get('never_fire')} never fire and {neurons.get('always_fire')} "
        f"always fire (mean firing rate {pct(neurons.get('mean_firing_rate'))}).",
        "",
    ]
    zero = splits["all"].get("zero_spike_samples")
    if zero:
        lines += [f"**{zero} sample(s) produce no spike at all:** edge learning can neither learn nor classify them.", ""]
    if len(ordered) > 6:
        low = ", ".join(f"`{c}` {num(m)}" for c, m in ordered[:3])
        high = ", ".join(f"`{c}` {num(m)}" for c, m in ordered[::-1][:3])
        lines += [f"Median spikes per class (train): lowest {low}; highest {high}.", ""]
    elif ordered:
        lines += ["Median spikes per class (train): " + ", ".join(f"`{c}` {num(m)}" for c, m in ordered) + ".", ""]
    lines += [
        image("spike_count_histogram.png", "Spike counts per sample, train and validation"), "",
        image("spikes_per_class.png", "Median spikes per class"), "",
        image("spike_neuron_rates.png", "Firing rate of each spike neuron"), "",
    ]
    return lines


def weights_section(w: dict, curve: pd.DataFrame) -> list[str]:
    factor, median = need(w, "factor", "weights"), need(w, "median_spikes", "weights")
    num_weights = need(w, "num_weights", "weights")
    best_factor = need(w, "best_factor", "weights")
    lines = [
        "## 4. Number of weights",
        "",
        f"Median spikes per sample over {need(w, 'samples_used', 'weights')} training samples "
        f"(a fraction {num(need(w, 'fraction', 'weights'))} of train): **{num(median)}** "
        f"(over all of train: {num(w.get('all_train_median_spikes'))}). "
        f"num_weights = int({num(factor)} × {num(median)}) = **{num_weights}**"
        + (f", clamped to the spike width {w.get('clamp_width')}" if w.get("clamped") else "") + ".",
        "",
        f"The factor, measured rather than trusted: the edge layer trained on all of train at "
        f"{need(w, 'factor_neurons_per_class', 'weights')} neurons per class for each factor, once per seed "
        f"({len(need(w, 'factor_seeds', 'weights'))} seeds; mean ± {need(w, 'factor_interval', 'weights')}; "
        "← the chosen factor, ★ the best; *gap*: the best's accuracy minus this factor's, seed by seed).",
        "",
    ]
    rows = []
    for r in curve.sort_values("factor").itertuples():
        mark = (" ←" if math.isclose(r.factor, factor) else "") + (" ★" if math.isclose(r.factor, best_factor) else "")
        gap = "—" if math.isclose(r.factor, best_factor) else (
            f"{points_pm(r.gap_to_best, r.gap_to_best_ci95)}" + (", below" if r.below_best else ", indistinguishable"))
        rows.append([f"{num(float(r.factor))}{mark}", int(r.num_weights), pct_pm(r.val_accuracy, r.val_accuracy_ci95),
                     gap, num(float(r.learned_neurons))])
    lines += md_table(["factor", "num_weights", "validation accuracy", "gap to the best", "neurons that learned"], rows)
    lines += [image("weights_factor_curve.png", "Validation accuracy and learned neurons against the factor"), ""]
    return lines


def sweep_section(sw: dict, stems: dict[str, str]) -> list[str]:
    values = need(sw, "sweep_neurons_per_class", "sweep")
    classes = need(sw, "classes", "sweep")
    lines = [
        "## 5. Neurons per class: the sweep",
        "",
        f"The tutorial's §4 for {len(classes)} class(es): for each of {len(values)} values of neurons per class "
        f"({values[0]}–{values[-1]}), an edge layer trained on the class's samples alone "
        f"({need(sw, 'repetitions', 'sweep')} repetitions, the minimum kept; num_weights "
        f"{need(sw, 'sweep_num_weights', 'sweep')}). Loss per sample = num_weights − the best neuron's potential. "
        "The knee, where the curve bends and flattens, is found by kneedle on a log axis.",
        "",
    ]
    rows = []
    for word, c in classes.items():
        rows.append([f"`{word}`", c.get("samples"), _knee_cell(c, "loss"), _knee_cell(c, "learned")])
    lines += md_table(["class", "training samples", "loss knee", "learned-neurons knee"], rows)
    summary = need(sw, "summary", "sweep")
    if len(classes) > 1:
        lines += [
            f"Median knee over the classes: loss {num(summary.get('loss_knee_median'))}, "
            f"learned neurons {num(summary.get('learned_knee_median'))}.",
            "",
        ]
    skipped = sw.get("skipped_classes") or []
    if skipped:
        lines += ["Skipped (no training samples): " + ", ".join(f"`{s}`" for s in skipped) + ".", ""]
    short: dict[tuple, list[str]] = {}  # (samples, values above them) → classes: said once per group
    for word, c in classes.items():
        if c.get("fewer_samples_than"):
            short.setdefault((c.get("samples"), tuple(c["fewer_samples_than"])), []).append(word)
    for (samples, values_above), words in short.items():
        lines += [
            ", ".join(f"`{w}`" for w in words) + f": {samples} training samples, fewer than "
            f"{', '.join(map(str, values_above))} neurons per class. Only one neuron learns per sample, so there "
            "the extra neurons are wasted.",
            "",
        ]
    for word, c in classes.items():
        lines += [f"### Class `{word}`", ""]
        for curve in ("loss", "learned"):
            if c.get(f"{curve}_knee") is None and c.get(f"{curve}_knee_reason"):
                lines += [f"No knee on the {curve} curve: {_reason(c[f'{curve}_knee_reason'])}.", ""]
        lines += [image(f"sweep_{stems[word]}.png", f"Loss and neurons that learned for class '{word}'"), ""]
    if len(classes) > 1:
        lines += ["### Every swept class", "", image("sweep_all_classes.png", "Every swept class on one set of axes"), ""]
    return lines


def _reason(reason: str | None) -> str:
    """The sweep's reason for a missing knee, without its own "no knee:" lead-in."""
    return (reason or "none found").removeprefix("no knee: ")


def _knee_cell(c: dict, curve: str) -> str:
    value = c.get(f"{curve}_knee")
    if value is None:
        return "none"
    at = c.get(f"{curve}_at_knee")
    return f"{value}" + ("" if at is None else f" ({curve} {num(float(at), 3)})")


def table_section(t: dict, tm: dict) -> list[str]:
    values = need(t, "neurons_per_class", "table")
    rows_in = need(t, "rows", "table")
    plateau = need(t, "plateau_neurons_per_class", "table")
    best = need(t, "best_neurons_per_class", "table")
    rows = []
    for v in values:
        r, m = rows_in[str(v)], need(tm, f"rows.{v}", "table_time")
        mark = " ←" if v == plateau else ""
        gap = "best" if v == best else points_pm(r["gap_to_best"], r["gap_to_best_ci95"]) + (
            ", below" if r["below_best"] else ", indistinguishable")
        rows.append([f"{v}{mark}", pct_pm(r["val_accuracy"], r["val_accuracy_ci95"]), f"{m['time_ratio_model']:.2f}",
                     f"{m['time_ratio_edge']:.2f}", gap, pct(r.get("train_accuracy")), num(r.get("learned_neurons"))])
    seeds = ", ".join(map(str, need(t, "seeds", "table")))
    lines = [
        "## 6. Accuracy and time ratio: the table",
        "",
        f"Full trainings on all {need(t, 'train_samples', 'table')} training samples "
        f"({need(t, 'table_num_classes', 'table')} classes, num_weights {need(t, 'table_num_weights', 'table')}), "
        f"validated on {need(t, 'val_samples', 'table')} samples, once per seed ({seeds}): mean ± "
        f"{need(t, 'interval', 'table')}. *Gap to the best*: the best value's accuracy minus this one's, seed by "
        "seed (the seeds share their training order at every value), with its interval; *below* when the whole "
        "interval is above zero, else *indistinguishable*.",
        "",
        f"Time ratios are relative to {need(t, 'reference', 'table')} neurons per class. *Time ratio* is the whole "
        f"model's fit, extractor + edge layer, as the tutorial timed it, measured as F + E: "
        f"{need(tm, 'method', 'table_time')}. *Edge layer* is E alone. "
        + check_sentence(need(tm, "check", "table_time"), need(t, "reference", "table")),
        "",
        *md_table(["Nb. neurons", "Val accuracy", "Time ratio", "Time ratio (edge layer)", "Gap to the best",
                   "Train accuracy (first seed)", "Neurons that learned"], rows),
        f"Accuracy stops rising at **{plateau}** neurons per class (←): the smallest value not significantly "
        f"below the best, {pct(need(t, 'best_val_accuracy', 'table'))} at {best}.",
        "",
        image("table.png", "Accuracy and time ratio against neurons per class"),
        "",
    ]
    near_chance = chance.warning(need(t, "best_val_accuracy", "table"), need(t, "table_num_classes", "table"))
    if near_chance:
        lines[-2:-2] = [f"**Warning:** {near_chance}.", ""]  # under the plateau sentence, above the figure
    if "hardware" in t:  # the hardware stage's on-chip limit, next to the plateau
        lines[-2:-2] = [hardware.sentence(t), ""]
    return lines


def factor_answer_lines(a: FactorAnswer) -> list[str]:
    what = f"{num(a.factor)} × median" if a.tutorial_measured else f"the chosen factor {num(a.factor)}"
    lines = ["### Does 1.2 × median do as well as the best factor?", ""]
    if not a.tutorial_measured:
        lines += [f"1.2 is not among `weights.factors`, so the chosen factor {num(a.factor)} stands in for it; "
                  "add 1.2 to `weights.factors` to measure the tutorial's own.", ""]
    gap = points_pm(a.gap, a.gap_ci)
    head = {
        "best": f"**Yes: {what} is the best factor measured**",
        "indistinguishable": f"**Yes, indistinguishable from the best:** the gap, {gap}, is within the seeds' noise",
        "below": f"**No: {gap} below the best**, more than the seeds' noise",
    }[a.verdict]
    lines += [
        f"{head}. {what[0].upper() + what[1:]} (num_weights {a.num_weights}) gives "
        f"{pct_pm(a.accuracy, a.accuracy_ci)} validation accuracy at {a.neurons_per_class} neurons per class; the best "
        f"factor measured, {num(a.best_factor)} (num_weights {a.best_num_weights}), gives "
        f"{pct_pm(a.best_accuracy, a.best_ci)}. Means over {a.seeds} seeds; the gap is taken seed by seed (paired) "
        "with its 95 % interval, and counts only when the whole interval is above zero.",
        "",
        image("factor_question.png", "Validation accuracy against the factor, the tutorial's factor and the best marked"),
        "",
    ]
    return lines


def knee_answer_lines(answers: list[KneeAnswer], table: dict, table_time: dict) -> list[str]:
    plateau = answers[0].plateau
    values = answers[0].values
    lines = [
        "### Does the sweep's knee sit near where the table's accuracy stops rising?",
        "",
        f"The table's accuracy stops rising at **{plateau}** neurons per class (of {', '.join(map(str, values))}): "
        "the smallest value not significantly below the best. Near means the table cannot tell the knee from that "
        "point: above the last value short of it and at most the next value after it. Accuracy and time ratio at "
        "a knee are read off the table, linear in log(neurons per class) between its values; the gap is that of "
        "the table value nearest the knee, paired by seed, with its 95 % interval.",
        "",
    ]
    rows, sentences = [], []
    found = [a for a in answers if a.knee is not None]
    same = len(found) == len(answers) == 2 and len({(a.knee, a.verdict) for a in found}) == 1
    plateau_ratio = table_time["rows"][str(plateau)]["time_ratio_model"]
    for a in answers:
        name = "loss" if a.curve == "loss" else "learned neurons"
        over = f"median of {a.classes_with_knee} of {a.classes} classes" if a.classes > 1 else "one class"
        if a.knee is None:
            rows.append([name, "none", "—", "—", "—", "—", "no knee"])
            sentences.append(f"The {name} curve has no knee ({_reason(a.reason)}), so there is nothing to compare.")
            continue
        rows.append([name, f"{num(float(a.knee))} ({over})", f"{a.ratio:.2g}×", pct(a.accuracy_at_knee),
                     _gap_cell(a), "n/a" if a.time_ratio_at_knee is None else f"{a.time_ratio_at_knee:.2f}",
                     VERDICTS[a.verdict]])
        if not (same and a is answers[1]):  # both curves bend at one value: say it once
            what = "loss and learned-neurons knees" if same else f"{a.curve.replace('learned', 'learned-neurons')} knee"
            sentences.append(_knee_sentence(what, a, plateau_ratio))
    lines += md_table(["sweep curve", "knee", "knee ÷ plateau", "table accuracy at the knee", "gap to the best (nearest value)",
                       "time ratio at the knee", "verdict"], rows, align="lrrrrrl")
    lines += [s + "\n" for s in sentences]
    lines += [image("knee_vs_plateau.png", "The table's accuracy and the sweep's curves on one axis of neurons per class"), ""]
    return lines


VERDICTS = {
    "near": "near",
    "below": "below the plateau",
    "above": "above the plateau",
    "below_range": "below the table's values",
    "above_range": "above the table's values",
    "no_knee": "no knee",
}


def _gap_cell(a: KneeAnswer) -> str:
    if a.nearest is None or a.nearest_gap is None:
        return "n/a"
    if a.nearest_gap == 0 and not a.nearest_below:
        return f"best ({a.nearest})"
    return (f"{points_pm(a.nearest_gap, a.nearest_gap_ci)} at {a.nearest}, "
            + ("below" if a.nearest_below else "indistinguishable"))


def _gap_words(a: KneeAnswer) -> str:
    """What the knee gives up in accuracy, with the numbers: significant or within the seeds' noise."""
    if a.nearest is None or a.nearest_gap is None:
        return "the table has no value near it"
    if a.nearest_gap == 0 and not a.nearest_below:
        return f"{a.nearest}, the table value nearest it, is the best"
    gap = points_pm(a.nearest_gap, a.nearest_gap_ci)
    if a.nearest_below:
        return f"at {a.nearest}, the table value nearest it, accuracy is {gap} below the best, more than the seeds' noise"
    return f"at {a.nearest}, the table value nearest it, accuracy is indistinguishable from the best ({gap})"


def _knee_sentence(name: str, a: KneeAnswer, plateau_ratio: float) -> str:
    knee = num(float(a.knee))
    be = "are" if name.endswith("knees") else "is"
    if a.verdict == "near":
        return (f"**Yes for the {name} ({knee}):** {'they sit' if be == 'are' else 'it sits'} within one step of the "
                f"table's plateau at {a.plateau}; {_gap_words(a)}.")
    if a.verdict == "below":
        return (f"**No, the {name} ({knee}) {be} below the plateau:** {_gap_words(a)}"
                + ("; following it gives up accuracy." if a.nearest_below else "."))
    if a.verdict == "above":
        cost = (f"; the table stops at {a.values[-1]}" if a.time_ratio_at_knee is None else
                f"; it costs a time ratio of {a.time_ratio_at_knee:.2f} against {plateau_ratio:.2f} at the plateau")
        return (f"**No, the {name} ({knee}) {be} above the plateau**, {a.ratio:.2g}× as many neurons per class "
                f"as needed; {_gap_words(a)}{cost}. Following it costs time"
                + (" and accuracy." if a.nearest_below else ", not accuracy."))
    if a.verdict == "below_range":
        return (f"The {name} ({knee}) {be} below the table's smallest value {a.values[0]}, where accuracy had "
                "already stopped rising: the table cannot tell; add smaller values to `table.neurons_per_class`.")
    return (f"The {name} ({knee}) {be} above the table's largest value {a.values[-1]}, where accuracy was still "
            "rising: consistent, but unconfirmed; add larger values to `table.neurons_per_class`.")


def consistency_notes(w: dict, sw: dict, t: dict) -> list[str]:
    """The three learning stages must share num_weights; if not, some output is stale (run under -s)."""
    seen = {"weights": w.get("num_weights"), "sweep": sw.get("sweep_num_weights"), "table": t.get("table_num_weights")}
    if len(set(seen.values())) > 1:
        detail = ", ".join(f"{k} {v}" for k, v in seen.items())
        return [f"**Warning:** the stages used different num_weights ({detail}); some outputs are stale, "
                "run `dvc repro` to bring them in line.", ""]
    return []


# --- the whole report --------------------------------------------------------------------------
SWEEP_COLUMNS = ["word", "neurons_per_class", "loss_min", "learned_min"]
FACTOR_COLUMNS = ["factor", "num_weights", "val_accuracy", "val_accuracy_ci95", "learned_neurons", "gap_to_best",
                  "gap_to_best_ci95", "below_best"]


def build_markdown(root: Path) -> tuple[str, dict]:
    """The report's text, and what the figures need (loaded once)."""
    from edgetune.report.report_fewshot import fewshot_section
    from edgetune.edge.sweep_curves import file_stem  # the sweep stage's own file naming of classes

    data, ext, sp = load_json(root, "data"), load_json(root, "extractor"), load_json(root, "spikes")
    w, sw, t = load_json(root, "weights"), load_json(root, "sweep"), load_json(root, "table")
    tm = load_json(root, "table_time")
    curve = load_csv(root, "factor_curve", FACTOR_COLUMNS)
    sweep_curves = load_csv(root, "sweep_curves", SWEEP_COLUMNS)
    stems = {word: file_stem(word) for word in need(sw, "classes", "sweep")}
    factor = answer_factor(curve, float(need(w, "factor", "weights")), len(need(w, "factor_seeds", "weights")),
                           int(need(w, "factor_neurons_per_class", "weights")))
    knees = answer_knees(sw, t, tm)
    plateau = knees[0].plateau
    matrices = report_confusion.load({key: root / INPUTS[key].path for key in report_confusion.MATRICES})
    lines = [
        "# Akida learning parameters, measured",
        "",
        "BrainChip's tutorial *Tips to set Akida learning parameters*, regenerated by the `report` stage from the "
        "metrics and plots of every stage of this run: nothing below is typed by hand.",
        "",
        f"**In short:** num_weights **{need(w, 'num_weights', 'weights')}** "
        f"(= int({num(need(w, 'factor', 'weights'))} × {num(need(w, 'median_spikes', 'weights'))}, the median spikes "
        "per sample); "
        f"accuracy stops rising at **{plateau}** neurons per class "
        f"({pct_pm(t['rows'][str(plateau)]['val_accuracy'], t['rows'][str(plateau)]['val_accuracy_ci95'])}, "
        f"best {pct(need(t, 'best_val_accuracy', 'table'))}); "
        + "; ".join(f"sweep {'loss' if k.curve == 'loss' else 'learned-neurons'} knee "
                    f"{'none' if k.knee is None else num(float(k.knee))}" for k in knees) + ".",
        "",
        *consistency_notes(w, sw, t),
        *data_section(data),
        *extractor_section(ext),
        *spikes_section(sp),
        *weights_section(w, curve),
        *sweep_section(sw, stems),
        *table_section(t, tm),
        *report_confusion.section(matrices, image),
        "## 7. The two questions the tutorial leaves open",
        "",
        *factor_answer_lines(factor),
        *knee_answer_lines(knees, t, tm),
        *fewshot_section(root),
        "## Inputs",
        "",
        "Read from this run (`dvc repro report` rewrites the report when any of them changes):",
        "",
        *(f"- `{inp.path}` ({inp.stage})" for inp in INPUTS.values()),
        "",
    ]
    context = {"factor": factor, "knees": knees, "curve": curve, "sweep": sw, "sweep_curves": sweep_curves,
               "table": t, "stems": stems, "confusion": matrices}
    return "\n".join(lines), context


COPIED = {  # report figure ← the stage's PNG
    "spike_count_histogram.png": "spike_histogram_png",
    "spikes_per_class.png": "spike_per_class_png",
    "spike_neuron_rates.png": "spike_rates_png",
    "weights_factor_curve.png": "factor_curve_png",
    "table.png": "table_png",
}


def write_figures(root: Path, figures: Path, context: dict) -> None:
    from edgetune.report import report_figures

    for name, key in COPIED.items():
        shutil.copyfile(root / INPUTS[key].path, figures / name)
    sweep_dir = root / INPUTS["sweep_dir"].path
    for word, stem in context["stems"].items():
        src = sweep_dir / f"{stem}.png"
        if not src.is_file():
            raise EdgetuneError(f"{src}: not found (class '{word}' of metrics/sweep.json); rerun dvc repro sweep")
        shutil.copyfile(src, figures / f"sweep_{stem}.png")
    sw = context["sweep"]
    if len(sw["classes"]) > 1:
        report_figures.sweep_all_classes(context["sweep_curves"], sw, figures / "sweep_all_classes.png")
    report_figures.factor_question(context["curve"], context["factor"], figures / "factor_question.png")
    report_confusion.write_figures(context["confusion"], figures)
    report_figures.knee_vs_plateau(context["table"], context["sweep_curves"], sw, context["knees"],
                                   figures / "knee_vs_plateau.png")


def run(root: str | Path = ".", out_dir: str | Path = OUT_DIR) -> Path:
    """Build the report from the upstream outputs under ``root``; swap it in as ``out_dir``."""
    from edgetune.report import report_html
    from edgetune.atomic import atomic_directory

    root = Path(root)
    out_dir = Path(out_dir)
    if not out_dir.is_absolute():
        out_dir = root / out_dir
    check_inputs(root)
    markdown, context = build_markdown(root)
    with atomic_directory(out_dir) as tmp:
        figures = tmp / FIGURES
        figures.mkdir()
        write_figures(root, figures, context)
        (tmp / "report.md").write_text(markdown, encoding="utf-8")
        (tmp / "report.html").write_text(report_html.render(markdown, tmp), encoding="utf-8")
    log.info("report written to %s (%d figures)", out_dir, len(list((out_dir / FIGURES).iterdir())))
    return out_dir
