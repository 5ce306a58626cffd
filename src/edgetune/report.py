"""The report stage: the tutorial, regenerated from this run's metrics and plots → ``report/``.

Writes ``report/report.md`` (figures as relative links), ``report/report.html`` (the same text
with every figure embedded as a data URI, so it is one file to mail or archive) and
``report/figures/*.png``: the stages' own PNGs copied, plus the figures that answer the two
questions the tutorial leaves open, drawn here from the same numbers.

Nothing in the report is typed by hand: every number comes from a ``metrics/*.json`` or
``plots/*.csv`` file of an upstream stage, so ``dvc repro`` keeps it true and ``dvc exp`` gives
each experiment its own report. The folder is built beside ``report/`` and swapped in whole
(:func:`edgetune.atomic.atomic_directory`); same inputs give the same bytes.

"Near" is measured with the table's own notion of a difference that does not matter:
``table.tolerance`` (recorded in ``metrics/table.json``), the margin under which the table says
accuracy has stopped rising.
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

from edgetune import hardware
from edgetune.errors import EdgetuneError

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
    "table_png": Input("plots/table.png", "table"),
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
    """Question 1: does factor × median (the tutorial's 1.2) sit near the best factor measured?"""

    factor: float
    tutorial_measured: bool  # False: 1.2 is not among weights.factors, the chosen factor stands in
    num_weights: int
    accuracy: float
    best_factor: float
    best_num_weights: int
    best_accuracy: float
    tolerance: float
    neurons_per_class: int

    @property
    def gap(self) -> float:
        return self.best_accuracy - self.accuracy

    @property
    def near(self) -> bool:
        return self.gap <= self.tolerance + 1e-12


def answer_factor(curve: pd.DataFrame, chosen_factor: float, tolerance: float, neurons_per_class: int) -> FactorAnswer:
    """Compare the tutorial's factor (or the chosen one, if 1.2 was not measured) with the best factor.

    Best: the highest validation accuracy, ties to the smallest factor — the weights stage's rule.
    """
    measured = bool(np.isclose(curve["factor"], TUTORIAL_FACTOR).any())
    factor = TUTORIAL_FACTOR if measured else chosen_factor
    row = curve[np.isclose(curve["factor"], factor)].iloc[0]
    best_acc = curve["val_accuracy"].max()
    best = curve[curve["val_accuracy"] == best_acc].sort_values("factor").iloc[0]
    return FactorAnswer(
        factor=float(factor), tutorial_measured=measured, num_weights=int(row["num_weights"]),
        accuracy=float(row["val_accuracy"]), best_factor=float(best["factor"]),
        best_num_weights=int(best["num_weights"]), best_accuracy=float(best_acc), tolerance=tolerance,
        neurons_per_class=neurons_per_class,
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


def answer_knees(sweep: dict, table: dict) -> list[KneeAnswer]:
    values = [int(v) for v in need(table, "neurons_per_class", "table")]
    rows = need(table, "rows", "table")
    accs = [need(rows, f"{v}.val_accuracy", "table") for v in values]
    ratios = [need(rows, f"{v}.time_ratio_model", "table") for v in values]
    plateau = int(need(table, "plateau_neurons_per_class", "table"))
    summary = need(sweep, "summary", "sweep")
    answers = []
    for curve in ("loss", "learned"):
        knee = need(summary, f"{curve}_knee_median", "sweep")
        verdict = "no_knee" if knee is None else knee_verdict(knee, values, plateau)
        answers.append(KneeAnswer(
            curve=curve, knee=knee, classes_with_knee=int(need(summary, f"classes_with_{curve}_knee", "sweep")),
            classes=int(need(summary, "classes", "sweep")), reason=summary.get(f"{curve}_knee_reason"),
            plateau=plateau, values=values, verdict=verdict,
            accuracy_at_knee=None if knee is None else log_interp(knee, values, accs),
            time_ratio_at_knee=None if knee is None else log_interp(knee, values, ratios),
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

    seconds = data.get("seconds")
    return [
        "## 1. Data",
        "",
        f"Source **{need(data, 'source', 'data')}**: {need(data, 'num_classes', 'data')} classes, "
        f"{samples['train']} training and {samples['val']} validation samples"
        + (f", made in {seconds:g} s" if isinstance(seconds, (int, float)) and seconds > 0 else "") + ".",
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
    source = need(ext, "source", "extractor")
    rows = [
        ["float model", pct(ext.get("float_val_accuracy"))],
        ["quantized model", pct(ext.get("quantized_val_accuracy"))],
        ["Akida model (converted)", pct(ext.get("akida_val_accuracy"))],
    ]
    missing = [r[0] for r in rows if r[1] == "n/a"]
    train_seconds = ext.get("train_seconds")
    lines = [
        "## 2. Feature extractor",
        "",
        f"Source **{source}**"
        + (f", trained in {train_seconds:g} s" if isinstance(train_seconds, (int, float)) else "")
        + f". Validation accuracy of the full classifier ({ext.get('val_samples', 'n/a')} validation samples):",
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
            ["spikes per sample, median", num(need(ext, "median_spikes", "extractor"))],
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
        + (f", clamped to the spike width {w.get('width')}" if w.get("clamped") else "") + ".",
        "",
        f"The factor, measured rather than trusted: the edge layer trained on all of train at "
        f"{need(w, 'neurons_per_class', 'weights')} neurons per class for each factor "
        "(← the chosen factor, ★ the best).",
        "",
    ]
    rows = []
    for r in curve.sort_values("factor").itertuples():
        mark = (" ←" if math.isclose(r.factor, factor) else "") + (" ★" if math.isclose(r.factor, best_factor) else "")
        rows.append([f"{num(float(r.factor))}{mark}", int(r.num_weights), pct(r.val_accuracy), int(r.learned_neurons)])
    lines += md_table(["factor", "num_weights", "validation accuracy", "neurons that learned"], rows)
    lines += [image("weights_factor_curve.png", "Validation accuracy and learned neurons against the factor"), ""]
    return lines


def sweep_section(sw: dict, stems: dict[str, str]) -> list[str]:
    values = need(sw, "neurons_per_class", "sweep")
    classes = need(sw, "classes", "sweep")
    lines = [
        "## 5. Neurons per class: the sweep",
        "",
        f"The tutorial's §4 for {len(classes)} class(es): for each of {len(values)} values of neurons per class "
        f"({values[0]}–{values[-1]}), an edge layer trained on the class's samples alone "
        f"({need(sw, 'repetitions', 'sweep')} repetitions, the minimum kept; num_weights "
        f"{need(sw, 'num_weights', 'sweep')}). Loss per sample = num_weights − the best neuron's potential. "
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


def table_section(t: dict) -> list[str]:
    values = need(t, "neurons_per_class", "table")
    rows_in = need(t, "rows", "table")
    plateau = need(t, "plateau_neurons_per_class", "table")
    rows = []
    for v in values:
        r = rows_in[str(v)]
        mark = " ←" if v == plateau else ""
        rows.append([f"{v}{mark}", pct(r["val_accuracy"]), f"{r['time_ratio_model']:.2f}", f"{r['time_ratio_edge']:.2f}",
                     f"{pct(r.get('val_accuracy_min'))} – {pct(r.get('val_accuracy_max'))}", pct(r.get("train_accuracy")),
                     num(r.get("learned_neurons"))])
    seeds = ", ".join(map(str, need(t, "seeds", "table")))
    lines = [
        "## 6. Accuracy and time ratio: the table",
        "",
        f"Full trainings on all {need(t, 'train_samples', 'table')} training samples "
        f"({need(t, 'num_classes', 'table')} classes, num_weights {need(t, 'num_weights', 'table')}), "
        f"validated on {need(t, 'val_samples', 'table')} samples, mean over seeds {seeds}. Time ratios are relative "
        f"to {need(t, 'reference', 'table')} neurons per class: *time ratio* is the whole model's fit from the MFCCs, "
        "as the tutorial timed it; *edge layer* is the edge layer's fit on precomputed spikes.",
        "",
        *md_table(["Nb. neurons", "Val accuracy", "Time ratio", "Time ratio (edge layer)", "Val accuracy range (seeds)",
                   "Train accuracy", "Neurons that learned"], rows),
        f"Accuracy stops rising at **{plateau}** neurons per class (←): the first value within "
        f"{100 * need(t, 'tolerance', 'table'):g} points of the best, {pct(need(t, 'best_val_accuracy', 'table'))} "
        f"at {need(t, 'best_neurons_per_class', 'table')}.",
        "",
    ]
    if t.get("whole_model_same_weights") is False:
        lines += ["**Warning:** the whole model learned other weights than the edge layer on the spikes: "
                  "the spikes and the extractor may come from different runs.", ""]
    if "hardware" in t:  # the hardware stage's on-chip limit, next to the plateau
        lines += [hardware.sentence(t), ""]
    lines += [image("table.png", "Accuracy and time ratio against neurons per class"), ""]
    return lines


def factor_scale(curve: pd.DataFrame, table: dict) -> str:
    """What a difference on the factor curve is worth: its whole span, and how far two seeds of one
    training land apart in the table (the curve is one training per factor, so it cannot tell less)."""
    lo, hi = curve["val_accuracy"].min(), curve["val_accuracy"].max()
    text = (f"For scale: the curve spans {pct(lo)} – {pct(hi)} over factors {num(float(curve['factor'].min()))} – "
            f"{num(float(curve['factor'].max()))}, one training per factor")
    spreads = {int(v): r["val_accuracy_max"] - r["val_accuracy_min"] for v, r in table.get("rows", {}).items()
               if r.get("val_accuracy_max") is not None and r.get("val_accuracy_min") is not None}
    if len(table.get("seeds", [])) > 1 and spreads:
        widest = max(spreads, key=lambda v: (spreads[v], -v))
        text += (f"; in the table, {len(table['seeds'])} seeds of one training differ by up to "
                 f"{points(spreads[widest])} (at {widest} neurons per class): a gap of that order is training noise")
    return text + "."


def factor_answer_lines(a: FactorAnswer, scale: str = "") -> list[str]:
    what = f"{num(a.factor)} × median" if a.tutorial_measured else f"the chosen factor {num(a.factor)}"
    lines = ["### Does 1.2 × median sit near the best factor?", ""]
    if not a.tutorial_measured:
        lines += [f"1.2 is not among `weights.factors`, so the chosen factor {num(a.factor)} stands in for it; "
                  "add 1.2 to `weights.factors` to measure the tutorial's own.", ""]
    if a.factor == a.best_factor:
        head = f"**Yes: {what} is the best factor measured**"
    elif a.near:
        head = f"**Yes, within {points(a.gap)}**"
    else:
        head = f"**No: {points(a.gap)} below the best**"
    lines += [
        f"{head}. {what[0].upper() + what[1:]} (num_weights {a.num_weights}) gives "
        f"{pct(a.accuracy)} validation accuracy at {a.neurons_per_class} neurons per class; the best factor measured, "
        f"{num(a.best_factor)} (num_weights {a.best_num_weights}), gives {pct(a.best_accuracy)}"
        + ("" if a.factor == a.best_factor else f": {points(a.gap)} more") + ". "
        f"Near means within the table's tolerance, {points(a.tolerance)}." + (f" {scale}" if scale else ""),
        "",
        image("factor_question.png", "Validation accuracy against the factor, the tutorial's factor and the best marked"),
        "",
    ]
    return lines


def knee_answer_lines(answers: list[KneeAnswer], table: dict) -> list[str]:
    plateau = answers[0].plateau
    values = answers[0].values
    rows_in = table["rows"]
    best_acc = table["best_val_accuracy"]
    lines = [
        "### Does the sweep's knee sit near where the table's accuracy stops rising?",
        "",
        f"The table's accuracy stops rising at **{plateau}** neurons per class (of {', '.join(map(str, values))}). "
        "Near means the table cannot tell the knee from that point: above the last value short of it and at most "
        "the next value after it. Accuracy and time ratio at a knee are read off the table, linear in "
        "log(neurons per class) between its values.",
        "",
    ]
    rows, sentences = [], []
    found = [a for a in answers if a.knee is not None]
    same = len(found) == len(answers) == 2 and len({(a.knee, a.verdict) for a in found}) == 1
    for a in answers:
        name = "loss" if a.curve == "loss" else "learned neurons"
        over = f"median of {a.classes_with_knee} of {a.classes} classes" if a.classes > 1 else "one class"
        if a.knee is None:
            rows.append([name, "none", "—", "—", "—", "no knee"])
            sentences.append(f"The {name} curve has no knee ({_reason(a.reason)}), so there is nothing to compare.")
            continue
        gap = None if a.accuracy_at_knee is None else best_acc - a.accuracy_at_knee
        rows.append([name, f"{num(float(a.knee))} ({over})", f"{a.ratio:.2g}×", pct(a.accuracy_at_knee),
                     "n/a" if a.time_ratio_at_knee is None else f"{a.time_ratio_at_knee:.2f}", VERDICTS[a.verdict]])
        if not (same and a is answers[1]):  # both curves bend at one value: say it once
            sentences.append(_knee_sentence("loss and learned-neurons knees" if same else f"{a.curve.replace('learned', 'learned-neurons')} knee", a, gap,
                                            rows_in[str(plateau)]["time_ratio_model"], table))
    lines += md_table(["sweep curve", "knee", "knee ÷ plateau", "table accuracy at the knee", "time ratio at the knee",
                       "verdict"], rows, align="lrrrrl")
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


def _knee_sentence(name: str, a: KneeAnswer, gap: float | None, plateau_ratio: float, t: dict) -> str:
    knee = num(float(a.knee))
    be = "are" if name.endswith("knees") else "is"
    if a.verdict == "near":
        acc = "" if gap is None else f"; the table's accuracy there is {pct(a.accuracy_at_knee)}, {points(gap)} from the best"
        return (f"**Yes for the {name} ({knee}):** {'they sit' if be == 'are' else 'it sits'} within one step of the "
                f"table's plateau at {a.plateau}{acc}.")
    if a.verdict == "below":
        return (f"**No, the {name} ({knee}) {be} below the plateau:** the table's accuracy there is "
                f"{pct(a.accuracy_at_knee)}, {points(gap)} under the best; following it gives up accuracy.")
    if a.verdict == "above":
        cost = "" if a.time_ratio_at_knee is None else (
            f"; it costs a time ratio of {a.time_ratio_at_knee:.2f} against {plateau_ratio:.2f} at the plateau")
        accuracy = "" if gap is None else f" and the accuracy there is {pct(a.accuracy_at_knee)} ({points(gap)} from the best)"
        if a.time_ratio_at_knee is None:
            cost = f"; the table stops at {a.values[-1]}"
        return (f"**No, the {name} ({knee}) {be} above the plateau**, {a.ratio:.2g}× as many neurons per class "
                f"as needed{accuracy}{cost}. Following it costs time"
                + (" and accuracy." if gap is not None and gap > t["tolerance"] + 1e-12 else ", not accuracy."))
    if a.verdict == "below_range":
        return (f"The {name} ({knee}) {be} below the table's smallest value {a.values[0]}, where accuracy had "
                "already stopped rising: the table cannot tell; add smaller values to `table.neurons_per_class`.")
    return (f"The {name} ({knee}) {be} above the table's largest value {a.values[-1]}, where accuracy was still "
            "rising: consistent, but unconfirmed; add larger values to `table.neurons_per_class`.")


def consistency_notes(w: dict, sw: dict, t: dict) -> list[str]:
    """The three learning stages must share num_weights; if not, some output is stale (run under -s)."""
    seen = {"weights": w.get("num_weights"), "sweep": sw.get("num_weights"), "table": t.get("num_weights")}
    if len(set(seen.values())) > 1:
        detail = ", ".join(f"{k} {v}" for k, v in seen.items())
        return [f"**Warning:** the stages used different num_weights ({detail}); some outputs are stale, "
                "run `dvc repro` to bring them in line.", ""]
    return []


# --- the whole report --------------------------------------------------------------------------
SWEEP_COLUMNS = ["word", "neurons_per_class", "loss_min", "learned_min"]
FACTOR_COLUMNS = ["factor", "num_weights", "val_accuracy", "learned_neurons"]


def build_markdown(root: Path) -> tuple[str, dict]:
    """The report's text, and what the figures need (loaded once)."""
    from edgetune.sweep import file_stem  # the sweep stage's own file naming of classes

    data, ext, sp = load_json(root, "data"), load_json(root, "extractor"), load_json(root, "spikes")
    w, sw, t = load_json(root, "weights"), load_json(root, "sweep"), load_json(root, "table")
    curve = load_csv(root, "factor_curve", FACTOR_COLUMNS)
    sweep_curves = load_csv(root, "sweep_curves", SWEEP_COLUMNS)
    tolerance = float(need(t, "tolerance", "table"))
    stems = {word: file_stem(word) for word in need(sw, "classes", "sweep")}
    factor = answer_factor(curve, float(need(w, "factor", "weights")), tolerance, int(need(w, "neurons_per_class", "weights")))
    knees = answer_knees(sw, t)
    plateau = knees[0].plateau
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
        f"({pct(t['rows'][str(plateau)]['val_accuracy'])}, best {pct(need(t, 'best_val_accuracy', 'table'))}); "
        + "; ".join(f"sweep {'loss' if k.curve == 'loss' else 'learned-neurons'} knee "
                    f"{'none' if k.knee is None else num(float(k.knee))}" for k in knees) + ".",
        "",
        *consistency_notes(w, sw, t),
        *data_section(data),
        *extractor_section(ext),
        *spikes_section(sp),
        *weights_section(w, curve),
        *sweep_section(sw, stems),
        *table_section(t),
        "## 7. The two questions the tutorial leaves open",
        "",
        *factor_answer_lines(factor, factor_scale(curve, t)),
        *knee_answer_lines(knees, t),
        "## Inputs",
        "",
        "Read from this run (`dvc repro report` rewrites the report when any of them changes):",
        "",
        *(f"- `{inp.path}` ({inp.stage})" for inp in INPUTS.values()),
        "",
    ]
    context = {"factor": factor, "knees": knees, "curve": curve, "sweep": sw, "sweep_curves": sweep_curves,
               "table": t, "stems": stems}
    return "\n".join(lines), context


COPIED = {  # report figure ← the stage's PNG
    "spike_count_histogram.png": "spike_histogram_png",
    "spikes_per_class.png": "spike_per_class_png",
    "spike_neuron_rates.png": "spike_rates_png",
    "weights_factor_curve.png": "factor_curve_png",
    "table.png": "table_png",
}


def write_figures(root: Path, figures: Path, context: dict) -> None:
    from edgetune import report_figures

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
    report_figures.knee_vs_plateau(context["table"], context["sweep_curves"], sw, context["knees"],
                                   figures / "knee_vs_plateau.png")


def run(root: str | Path = ".", out_dir: str | Path = OUT_DIR) -> Path:
    """Build the report from the upstream outputs under ``root``; swap it in as ``out_dir``."""
    from edgetune import report_html
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
