"""What the report's answers are conditional on, said where a reader looks first.

Every figure downstream of the extractor is an answer about one extractor: one training draw,
whose seed alone moves its accuracy by a few points. The "In short" line names that extractor
(md5, how it was made) and how far its draw goes (the seed spread recorded for the same params
and data), and repeats every sanity warning the sections below raise, so none hides in a section.
"""

from __future__ import annotations

from edgetune.edge import chance
from edgetune.extractor.identity import spread_applies
from edgetune.report.formats import md_table, pct, pct_pm
from edgetune.report.inputs import INPUTS, need

SPREAD_KEY = "akida_val_accuracy"
# the params that say where a model comes from, shown only for the source that reads them
WHERE_FROM = {"url": ("brainchip",), "sha256": ("brainchip",), "path": ("file",)}


def made_text(ident: dict) -> str:
    made = need(ident, "made", "identity")
    if made.get("how") == "trained":
        return (f"trained by the extractor stage on {made.get('cpu')} (TensorFlow {made.get('tensorflow')}, "
                f"oneDNN capped at {made.get('onednn_max_cpu_isa')})")
    if made.get("how") == "downloaded":
        return f"BrainChip's pretrained model from {made.get('url')}"
    return f"your file `{made.get('path')}`"


def rank_text(rank: int, n: int) -> str:
    if rank == 1 or rank == n:
        return "the best" if rank == 1 else "the worst"
    return f"the {rank}{ {2: 'nd', 3: 'rd'}.get(rank if rank < 20 else rank % 10, 'th')} best"


def spread_text(ident: dict, spread: dict) -> str:
    """How far this draw goes: the recorded spread and this extractor's place in it, or why there is none."""
    path = INPUTS["seeds"].path
    if need(ident, "made", "identity").get("how") != "trained":
        return "one fixed model, so no seed spread applies"
    if not spread_applies(ident, spread):
        return (f"the seed spread in `{path}` was measured for other params or data, so this draw's spread is not "
                f"measured ({INPUTS['seeds'].make})")
    runs = need(spread, "runs", "seeds")
    s = need(spread, f"summary.{SPREAD_KEY}", "seeds")
    seed = need(ident, "params.seed", "identity")
    text = (f"over {len(runs)} extractor seeds with these params and data, Akida {pct_pm(s['mean'], s['ci95'])} "
            f"(95 %; {pct(s['min'])} to {pct(s['max'])})")
    mine = [r for r in runs if r["seed"] == seed]
    if mine:
        ordered = sorted((r[SPREAD_KEY] for r in runs), reverse=True)
        text += f", seed {seed} {rank_text(ordered.index(mine[0][SPREAD_KEY]) + 1, len(runs))} of them"
    return text


def conditions_sentence(ident: dict, ext: dict, spread: dict) -> str:
    seed = need(ident, "params.seed", "identity")
    accuracy = ext.get("akida_val_accuracy")
    own = "" if accuracy is None else f", Akida {pct(accuracy)} on its own"
    seed_text = f", extractor.seed {seed}" if need(ident, "made", "identity").get("how") == "trained" else ""
    return (f"**All of this is for one extractor:** `models/extractor.fbz` md5 `{need(ident, 'model_md5', 'identity')}`, "
            f"{made_text(ident)}{seed_text}{own}; {spread_text(ident, spread)}.")


def zero_spike_warning(zero: int) -> str:
    return f"{zero} sample(s) produce no spike at all: edge learning can neither learn nor classify them"


def sanity_warnings(sp: dict, t: dict, stale: str | None) -> list[str]:
    """Every warning a section raises, each one sentence."""
    out = []
    if stale:
        out.append(stale)
    zero = (sp.get("overall") or {}).get("zero_spike_samples")
    if zero:
        out.append(zero_spike_warning(zero))
    near = chance.warning(need(t, "best_val_accuracy", "table"), need(t, "table_num_classes", "table"))
    if near:
        out.append(near)
    return out


def warning_lines(warnings: list[str]) -> list[str]:
    return [f"**Warning:** {w}." for w in warnings]


def identity_lines(ident: dict, spread: dict) -> list[str]:
    """Section 2's part: the extractor's identity, and the recorded seed spread seed by seed."""
    params = need(ident, "params", "identity")
    source = params.get("source", "train")
    lines = [
        "Which extractor this is (`results/extractor_identity.json`):",
        "",
        *md_table(["", "value"], [
            ["model md5", f"`{need(ident, 'model_md5', 'identity')}`"],
            ["made", made_text(ident)],
            ["dataset md5", f"`{need(ident, 'data.md5', 'identity')}` (`{need(ident, 'data.path', 'identity')}`)"],
            ["params", ", ".join(f"{k} {v}" for k, v in params.items() if k not in WHERE_FROM or source in WHERE_FROM[k])],
        ]),
    ]
    if need(ident, "made", "identity").get("how") != "trained":
        return lines
    lines += ["A trained extractor's bytes follow the CPU that trained it; the committed one is what every clone "
              "reuses, and `dvc repro -f extractor` trains another draw (docs/reproducibility.md). "
              f"Its spread: {spread_text(ident, spread)}.", ""]
    if spread_applies(ident, spread):
        keys = [k for k in ("float_val_accuracy", "quantized_val_accuracy", SPREAD_KEY) if k in spread["summary"]]
        rows = [[r["seed"], *(pct(r[k]) for k in keys)] for r in spread["runs"]]
        rows.append(["mean ± 95 %", *(pct_pm(spread["summary"][k]["mean"], spread["summary"][k]["ci95"]) for k in keys)])
        lines += md_table(["extractor.seed", *(k.removesuffix("_val_accuracy") for k in keys)], rows)
    return lines
