"""Number and markdown formats of the report, so every section writes a number one way."""

from __future__ import annotations

FIGURES = "figures"  # the report's figure folder, linked relative to report.md


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
