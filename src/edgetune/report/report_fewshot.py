"""The report's section on new words learned with k shots (``metrics/fewshot.json``, the fewshot stage)."""

from __future__ import annotations

import json
from pathlib import Path

from edgetune.report.terms import Terms

FEWSHOT = Path("metrics/fewshot.json")


def _pct(e: dict) -> str:
    return f"{100 * e['mean']:.1f} % ± {100 * e['ci95']:.1f}"


def _pts(e: dict) -> str:
    return f"{100 * e['mean']:.2f} ± {100 * e['ci95']:.2f} points"


def fewshot_section(root: Path, terms: Terms = Terms(speech=True)) -> list[str]:
    """Markdown lines; empty when the run has no fewshot metrics (a pipeline without the stage)."""
    path = Path(root) / FEWSHOT
    if not path.is_file():
        return []
    f = json.loads(path.read_text()).get("fewshot", {})
    item, items = terms.item, terms.items
    lines = [f"## 8. New {items} on the device: k shots each", ""]
    if not f.get("available"):
        return lines + [f"Not measured: {f.get('reason')}", ""]
    rows = sorted(f["rows"].items(), key=lambda item: int(item[0]))  # the JSON's keys are sorted as text
    names = ", ".join(f"'{w}'" for w in f["words"])
    never = "words the extractor never heard" if terms.speech else "classes the extractor was never trained on"
    drawn = "the new words' training voices" if terms.speech else "the new classes' training samples"
    held_out = " (held-out voices)" if terms.speech else ""
    lines += [
        f"The trained {f['old_classes']}-class edge layer ({f['neurons_per_class']} neurons per class, from "
        f"{f['neurons_per_class_from']}) gets `add_classes({len(f['words'])})` and learns {names} — {never} — "
        f"through `fit` on k training samples per {item}, drawn from {drawn}. Scored on {f['new_val_samples']} "
        f"new-{item} and {f['old_val_samples']} old-class validation samples{held_out}; mean ± 95 % t-interval "
        f"over {len(f['seeds'])} seeds.",
        "",
    ]
    for k, row in rows:
        lines.append(f"- With **{k}** shot{'s' if k != '1' else ''} per {item}, new {items} reach "
                     f"**{_pct(row['new_accuracy'])}** and old classes lose **{_pts(row['old_loss'])}** "
                     f"({_pct(row['old_accuracy_before'])} → {_pct(row['old_accuracy'])}).")
    lines += ["", f"| shots | new {items} | old classes | old loss | new taken for old | old taken for new | "
              "old predictions kept |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for k, row in rows:
        lines.append(f"| {k} | {_pct(row['new_accuracy'])} | {_pct(row['old_accuracy'])} | {_pts(row['old_loss'])} | "
                     f"{_pct(row['new_as_old'])} | {_pct(row['old_as_new'])} | {_pct(row['old_predictions_kept'])} |")
    return lines + [""]
