"""metrics/table.md: the tutorial's closing table as a reader sees it, every figure with its spread.

Accuracy is a mean over seeds with its 95 % interval, the gap to the best is paired by seed, the
time ratio is the median over timed rounds with their range, and times are minima with their spread; the text above the table says how each was
measured, so the file stands on its own in a review.
"""

from __future__ import annotations

from edgetune.edge.whole_model import COMPOSED


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _pm(mean: float, half: float) -> str:
    return f"{100 * mean:.1f} ± {100 * half:.1f} %"


def check_sentence(check: dict, reference: int) -> str:
    """How the direct whole-model fit compares with F + E, in one sentence."""
    if check["mode"] != COMPOSED:
        return (f"The engine cannot append the edge layer to this extractor, so no direct whole-model fit checks "
                f"the sum ({check['mode']}).")
    same = "" if check["same_weights"] else (" **Warning:** it learned other weights than the edge layer on the "
                                             "spikes: are `data/spikes.npz` and `models/extractor.fbz` from the same run?")
    return (f"Check: one direct fit of the whole model at {reference} (extractor + edge layer, {check['samples']} "
            f"samples) took {check['direct_seconds']:.2f} s of CPU time against F + E = {check['forward_plus_fit_seconds']:.2f} s "
            f"(ratio {check['direct_over_sum']:.3f}).{same}")


def render_markdown(t: dict, tm: dict) -> str:
    seeds = ", ".join(str(s) for s in t["seeds"])
    lines = [
        "# Validation accuracy and time ratio per neurons per class",
        "",
        f"Full trainings of the edge layer on all {t['train_samples']} training samples "
        f"({t['table_num_classes']} classes, num_weights = {t['table_num_weights']}, learning_competition = "
        f"{t['learning_competition']}), validated on {t['val_samples']} samples; mean over seeds {seeds} "
        f"± the {t['interval']}. *Gap to best*: the best value's accuracy minus this row's, seed by seed "
        "(paired), with its interval; *below* when the whole interval is above zero.",
        "",
        f"*Time ratio* is the whole model's fit (extractor + edge layer, what the tutorial timed) relative to "
        f"{t['reference']} neurons per class; *edge layer*, the edge layer's fit alone; *wall clock*, the same ratio "
        f"on wall-clock time, which depends on how many cores were free. {tm['method']}: "
        f"F = {tm['forward_cpu_seconds']:.2f} s CPU ({tm['forward_seconds']:.2f} s wall; spread "
        f"{100 * tm['forward_spread']:.0f} %). "
        + check_sentence(tm["check"], t["reference"]),
        "",
        "| Nb. neurons | Val accuracy | Time ratio (rounds' range) | Time ratio (edge layer) | Gap to best | Val accuracy range (seeds) "
        "| Train accuracy (first seed) | Learned neurons | Time ratio (wall clock) | Fit time, whole model (CPU) "
        "| Fit time, edge layer (CPU, spread) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in map(str, t["neurons_per_class"]):
        r, m = t["rows"][key], tm["rows"][key]
        mark = " ←" if int(key) == t["plateau_neurons_per_class"] else ""
        units = int(key) * t["table_num_classes"]
        gap = ("best" if int(key) == t["best_neurons_per_class"] else
               f"{100 * r['gap_to_best']:.1f} ± {100 * r['gap_to_best_ci95']:.1f}" + (" below" if r["below_best"] else ""))
        lines.append(
            f"| {key}{mark} | {_pm(r['val_accuracy'], r['val_accuracy_ci95'])} | {m['time_ratio_model']:.2f} "
            f"({m['time_ratio_model_low']:.2f}–{m['time_ratio_model_high']:.2f}) | {m['time_ratio_edge']:.2f} | {gap} | {_pct(r['val_accuracy_min'])} – {_pct(r['val_accuracy_max'])} "
            f"| {_pct(r['train_accuracy'])} | {r['learned_neurons']:g} / {units} | {m['time_ratio_model_wall']:.2f} "
            f"| {m['whole_model_cpu_seconds']:.2f} s | {m['edge_fit_cpu_seconds']:.2f} s ({100 * m['edge_fit_spread']:.0f} %) |"
        )
    lines += [
        "",
        f"Accuracy stops rising at **{t['plateau_neurons_per_class']}** neurons per class (←): the smallest value "
        f"not significantly below the best, {_pct(t['best_val_accuracy'])} at {t['best_neurons_per_class']}.",
        "",
    ]
    return "\n".join(lines)
