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
    return lines + [""]
