"""The report's confusion matrices: the extractor's classifier and the edge layer, drawn and summarised.

Both come from the CSVs DVC draws with its ``confusion`` templates (:mod:`edgetune.confusion`):
``plots/confusion/extractor.csv`` (the full Akida model before its classifier is removed) and
``plots/confusion/edge.csv`` (the edge layer at ``table.reference``, first seed). Each gets a PNG
and its five most confused (actual → predicted) pairs.
"""

from __future__ import annotations

from pathlib import Path

from edgetune import confusion

TOP_PAIRS = 5
# report key → (what it is, figure file name)
MATRICES = {
    "extractor_confusion": ("the extractor's own classifier (Akida, before it is removed)", "confusion_extractor.png"),
    "edge_confusion": ("the edge layer at the table's reference value, first seed", "confusion_edge.png"),
}


def load(paths: dict[str, Path]) -> dict[str, confusion.Matrix | None]:
    """Each matrix, or None where the CSV has no row (no classifier to score, e.g. a user's .fbz)."""
    out = {}
    for key, path in paths.items():
        rows = confusion.read_confusion_csv(path)
        out[key] = confusion.matrix(rows) if rows else None
    return out


def section(matrices: dict[str, confusion.Matrix | None], image, items: str = "words") -> list[str]:
    lines = [f"## Which {items} are confused", "",
             "Validation set, one row per actual class, each row normalised (where that class's samples went). "
             "`dvc plots show` draws the same CSVs with DVC's `confusion` and `confusion_normalized` templates.", ""]
    for key, (what, figure) in MATRICES.items():
        m = matrices.get(key)
        lines += [f"### {what[0].upper()}{what[1:]}", ""]
        if m is None:
            lines += ["n/a: no classifier to score for this source.", ""]
            continue
        accuracy = m.counts.trace() / m.counts.sum()
        pairs = confusion.most_confused(m, TOP_PAIRS)
        lines += [f"Accuracy {100 * accuracy:.1f} % on {int(m.counts.sum())} samples. "
                  f"The {len(pairs)} most confused pairs:", ""]
        lines += ["| actual | predicted as | samples | of the actual class |", "|---|---|---:|---:|"]
        lines += [f"| `{p.actual}` | `{p.predicted}` | {p.count} | {100 * p.fraction:.1f} % |" for p in pairs]
        lines += ["", image(figure, f"Confusion matrix of {what}"), ""]
    return lines


def write_figures(matrices: dict[str, confusion.Matrix | None], figures: Path) -> None:
    for key, (what, figure) in MATRICES.items():
        if matrices.get(key) is not None:
            confusion.draw(matrices[key], figures / figure, f"Confusion matrix: {what}")
