"""Section 7 of the report: the two answers in words, with their numbers and intervals."""

from __future__ import annotations

from edgetune.report.answers import FactorAnswer, KneeAnswer
from edgetune.report.formats import image, md_table, num, pct, pct_pm, points_pm
from edgetune.report.sections import no_knee_reason


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
            sentences.append(f"The {name} curve has no knee ({no_knee_reason(a.reason)}), so there is nothing to compare.")
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
