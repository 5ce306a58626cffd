"""The report's section on new words learned with k shots (``metrics/fewshot.json``, the fewshot stage)."""

from __future__ import annotations

import json
from pathlib import Path

FEWSHOT = Path("metrics/fewshot.json")


def _pct(e: dict) -> str:
    return f"{100 * e['mean']:.1f} % ± {100 * e['ci95']:.1f}"


def _pts(e: dict) -> str:
    return f"{100 * e['mean']:.2f} ± {100 * e['ci95']:.2f} points"


def fewshot_section(root: Path) -> list[str]:
    """Markdown lines; empty when the run has no fewshot metrics (a pipeline without the stage)."""
    path = Path(root) / FEWSHOT
    if not path.is_file():
        return []
    f = json.loads(path.read_text()).get("fewshot", {})
    lines = ["## 8. New words on the device: k shots each", ""]
    if not f.get("available"):
        return lines + [f"Not measured: {f.get('reason')}", ""]
    rows = sorted(f["rows"].items(), key=lambda item: int(item[0]))  # the JSON's keys are sorted as text
    words = ", ".join(f"'{w}'" for w in f["words"])
    lines += [
        f"The trained {f['old_classes']}-class edge layer ({f['neurons_per_class']} neurons per class, from "
        f"{f['neurons_per_class_from']}) gets `add_classes({len(f['words'])})` and learns {words} — words the "
        f"extractor never heard — through `fit` on k training samples per word, drawn from the new words' "
        f"training voices. Scored on {f['new_val_samples']} new-word and {f['old_val_samples']} old-class "
        f"validation samples (held-out voices); mean ± 95 % t-interval over {len(f['seeds'])} seeds.",
        "",
    ]
    for k, row in rows:
        lines.append(f"- With **{k}** shot{'s' if k != '1' else ''} per word, new words reach "
                     f"**{_pct(row['new_accuracy'])}** and old classes lose **{_pts(row['old_loss'])}** "
                     f"({_pct(row['old_accuracy_before'])} → {_pct(row['old_accuracy'])}).")
    lines += ["", "| shots | new words | old classes | old loss | new taken for old | old taken for new | "
              "old predictions kept |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for k, row in rows:
        lines.append(f"| {k} | {_pct(row['new_accuracy'])} | {_pct(row['old_accuracy'])} | {_pts(row['old_loss'])} | "
                     f"{_pct(row['new_as_old'])} | {_pct(row['old_as_new'])} | {_pct(row['old_predictions_kept'])} |")
    return lines + [""]
