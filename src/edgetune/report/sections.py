"""Sections 3–6 of the report: one writer per stage's metrics, each returning markdown lines."""

from __future__ import annotations

import math

import pandas as pd

from edgetune.edge import chance, hardware
from edgetune.edge.table_markdown import check_sentence
from edgetune.report.conditions import zero_spike_warning
from edgetune.report.formats import image, md_table, num, pct, pct_pm, points_pm
from edgetune.report.inputs import need


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
        lines += [f"**Warning:** {zero_spike_warning(zero)}.", ""]
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
                lines += [f"No knee on the {curve} curve: {no_knee_reason(c[f'{curve}_knee_reason'])}.", ""]
        lines += [image(f"sweep_{stems[word]}.png", f"Loss and neurons that learned for class '{word}'"), ""]
    if len(classes) > 1:
        lines += ["### Every swept class", "", image("sweep_all_classes.png", "Every swept class on one set of axes"), ""]
    return lines


def no_knee_reason(reason: str | None) -> str:
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
