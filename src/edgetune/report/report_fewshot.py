"""The report's section on new words learned with k shots (``metrics/fewshot.json``, the fewshot stage)."""

from __future__ import annotations

from pathlib import Path

from edgetune.report.formats import pct_pm
from edgetune.report.inputs import INPUTS, load_json, need
from edgetune.report.terms import Terms

def _pct(e: dict) -> str:
    return pct_pm(e["mean"], e["ci95"])


def _pts(e: dict) -> str:
    return f"{100 * e['mean']:.2f} ± {100 * e['ci95']:.2f} points"


def fewshot_section(root: Path, terms: Terms = Terms(speech=True)) -> list[str]:
    """Markdown lines; empty when the run has no fewshot metrics (a pipeline without the stage).

    Every key is read with need(): a key the stage renames is an error naming the file, not a "n/a".
    """
    if not (Path(root) / INPUTS["fewshot"].path).is_file():
        return []

    def get(doc: dict, key: str):
        return need(doc, key, "fewshot")

    f = get(load_json(Path(root), "fewshot"), "fewshot")
    item, items = terms.item, terms.items
    lines = [f"## 8. New {items} on the device: k shots each", ""]
    if not get(f, "available"):
        return lines + [f"Not measured: {get(f, 'reason')}", ""]
    rows = sorted(get(f, "rows").items(), key=lambda kv: int(kv[0]))  # the JSON's keys are sorted as text
    words = get(f, "words")
    names = ", ".join(f"'{w}'" for w in words)
    never = "words the extractor never heard" if terms.speech else "classes the extractor was never trained on"
    drawn = "the new words' training voices" if terms.speech else "the new classes' training samples"
    held_out = " (held-out voices)" if terms.speech else ""
    lines += [
        f"The trained {get(f, 'old_classes')}-class edge layer ({get(f, 'neurons_per_class')} neurons per class, "
        f"from {get(f, 'neurons_per_class_from')}) gets `add_classes({len(words)})` and learns {names} — {never} — "
        f"through `fit` on k training samples per {item}, drawn from {drawn}. Scored on {get(f, 'new_val_samples')} "
        f"new-{item} and {get(f, 'old_val_samples')} old-class validation samples{held_out}; mean ± 95 % "
        f"t-interval over {len(get(f, 'seeds'))} seeds.",
        "",
    ]
    columns = ["new_accuracy", "old_accuracy", "old_loss", "new_as_old", "old_as_new", "old_predictions_kept"]
    cells = {k: {c: get(row, c) for c in [*columns, "old_accuracy_before"]} for k, row in rows}
    for k, c in cells.items():
        lines.append(f"- With **{k}** shot{'s' if k != '1' else ''} per {item}, new {items} reach "
                     f"**{_pct(c['new_accuracy'])}** and old classes lose **{_pts(c['old_loss'])}** "
                     f"({_pct(c['old_accuracy_before'])} → {_pct(c['old_accuracy'])}).")
    lines += ["", f"| shots | new {items} | old classes | old loss | new taken for old | old taken for new | "
              "old predictions kept |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for k, c in cells.items():
        lines.append(f"| {k} | {_pct(c['new_accuracy'])} | {_pct(c['old_accuracy'])} | {_pts(c['old_loss'])} | "
                     f"{_pct(c['new_as_old'])} | {_pct(c['old_as_new'])} | {_pct(c['old_predictions_kept'])} |")
    return lines + [""] + _arms(f, get, terms)


def _arms(f: dict, get, terms: Terms) -> list[str]:
    """The one-person arm, the heard-words control and the layer sizes, side by side at the most shots."""
    items, sizes = terms.items, get(f, "sizes")
    k = str(max(int(x) for x in get(f, "rows")))
    personal, heard = get(f, "personal"), get(f, "heard")
    unseen = {n: get(f, "rows")[k] if n == sizes[0] else get(get(f, "unseen_other_sizes"), str(n))[k] for n in sizes}
    lines = []
    if get(personal, "available"):
        u, a = get(personal, "utterances"), get(personal, "augment")
        first = get(get(personal, "by_size"), str(sizes[0]))
        each = ", ".join(f"{p} {_pct(e)}" for p, e in get(first, "persons").items())
        lines += [
            f"**One {terms.groups[:-1]} at a time (the tutorial's test).** For each held-out "
            f"{terms.groups[:-1]} with at least {u + get(personal, 'test_clips_min')} validation clips of every new "
            f"{terms.item} ({len(get(personal, 'persons'))} of them): {u} of its clips per {terms.item}, each augmented "
            f"{a} times ({'time shift and noise on the MFCC' if terms.speech else 'a shift along the first axis and noise'}), {u * a} samples per {terms.item}, learned in one `fit`; "
            f"scored on its other clips over all {get(f, 'old_classes') + len(get(f, 'words'))} classes. At "
            f"{sizes[0]} neurons per class new {items} reach **{_pct(get(first, 'new_accuracy'))}** and old classes "
            f"lose {_pts(get(first, 'old_loss'))}; by {terms.groups[:-1]}: {each}.", ""]
    else:
        need_clips = get(personal, "utterances") + get(personal, "test_clips_min")
        lines += [f"One {terms.groups[:-1]} at a time (the tutorial's test): not measured, no held-out "
                  f"{terms.groups[:-1]} has {need_clips} validation samples of every new {terms.item}.", ""]
    if get(heard, "words"):
        gap = get(heard, "gap_over_new")
        at = get(get(heard, "by_size"), str(sizes[0]))[k]
        verdict = ("more than the interval allows: the extractor's features, not edge learning, are what holds the "
                   f"new {items} back" if get(heard, "extractor_limits_new_words") else
                   f"not above the interval: the extractor is not shown to be what holds the new {items} back")
        lines += [
            f"**Control: {items} the extractor heard.** {', '.join(repr(w) for w in get(heard, 'words'))}, left out of "
            f"the layer and added the same way from {k} shots each, reach **{_pct(get(at, 'new_accuracy'))}**, "
            f"{100 * get(gap, 'mean'):.1f} ± {100 * get(gap, 'ci95'):.1f} points above the new {items} "
            f"(paired by seed): {verdict}.", ""]
    header = ["| neurons per class | new, unseen " + terms.groups + f" ({k} shots) | old loss |"
              + (" one " + terms.groups[:-1] + " |" if get(personal, "available") else "")
              + (f" heard {items} ({k} shots) |" if get(heard, "words") else "")]
    lines += header + ["|" + "---:|" * (header[0].count("|") - 1)]
    for n in sizes:
        row = f"| {n} | {_pct(get(unseen[n], 'new_accuracy'))} | {_pts(get(unseen[n], 'old_loss'))} |"
        if get(personal, "available"):
            row += f" {_pct(get(get(get(personal, 'by_size'), str(n)), 'new_accuracy'))} |"
        if get(heard, "words"):
            row += f" {_pct(get(get(get(heard, 'by_size'), str(n))[k], 'new_accuracy'))} |"
        lines.append(row)
    return lines + [""]
