"""Stage hardware: what each setting costs on a chip, the deployed model mapped onto a virtual Akida device.

Accuracy alone does not choose neurons per class: on an AKD1000 a small edge layer sits in one
FNP3, whose weights live in on-chip memory; past a size the engine moves it to an FNP2, whose
weights live in external memory the host must provide. Each value of ``table.neurons_per_class``
is mapped (:mod:`edgetune.mapping`) as it would be deployed — extractor + edge layer, learning
compiled — onto ``hardware.device``. Mapping needs no training and takes milliseconds, so the
largest value that keeps the edge layer on-chip is found by bisection. The table stage merges
these columns into its rows (:func:`merge_into_table`).

A model the engine refuses (e.g. more units than its 17-bit field holds, or an extractor the
Akida 1.0 edge layer cannot follow) is a row saying why, not a crash.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import akida
from akida import AkidaUnsupervised, FullyConnected

from edgetune import paths
from edgetune.atomic import write_json, write_text
from edgetune.edge.layer import LAYER_NAME, read_positive_int
from edgetune.errors import EdgetuneError
from edgetune.mapping import layer_figures, load_model, mapping_figures
from edgetune.params import load_params

MAX_NEURONS_PER_CLASS = 1 << 20  # the search's ceiling; the engine refuses far fewer units anyway
PLOT_COLUMNS = ("neurons_per_class", "program_bytes", "external_bytes", "edge_external_bytes", "nps", "edge_on_chip")
# every row has every key (None where the model does not map), so `dvc metrics diff` lines up
EMPTY_ROW = {"units": None, "maps": False, "reason": None, "sequences": None, "nps": None, "components": None,
             "program_bytes": None, "external_bytes": None, "edge_np": None, "edge_nps": None,
             "edge_memory": None, "edge_on_chip": False, "edge_external_bytes": None, "learns_on_device": False}
# what the table's rows get (metrics/table.json, metrics/table.md)
TABLE_COLUMNS = ("maps", "reason", "edge_memory", "edge_np", "nps", "components", "program_bytes", "external_bytes",
                 "learns_on_device")
log = logging.getLogger(__name__)


def deployed_model(extractor: str | Path, units: int, num_classes: int, num_weights: int,
                   learning_competition: float) -> akida.Model:
    """Extractor + edge layer, compiled for learning, as the tutorial deploys it (raises the engine's error)."""
    model = load_model(extractor)
    model.add(FullyConnected(name=LAYER_NAME, units=units, activation=False))
    model.compile(optimizer=AkidaUnsupervised(num_weights=num_weights, num_classes=num_classes,
                                              learning_competition=learning_competition))
    return model


def map_setting(extractor: str | Path, npc: int, num_classes: int, num_weights: int, device_name: str,
                learning_competition: float = 0.1) -> dict:
    """One row: the deployed model at ``npc`` neurons per class, mapped on ``device_name``."""
    row = {**EMPTY_ROW, "units": npc * num_classes}
    try:
        model = deployed_model(extractor, row["units"], num_classes, num_weights, learning_competition)
    except (RuntimeError, ValueError) as exc:  # e.g. an Akida 2.0 extractor: the v1 layer cannot follow it
        return {**row, "reason": f"does not map: {exc}"}
    row.update(mapping_figures(model, device_name))
    if row["maps"]:
        row.update(layer_figures(model, LAYER_NAME))
        row["edge_memory"] = "on-chip" if row["edge_on_chip"] else "external"
    return row


def largest_on_chip(on_chip, ceiling: int = MAX_NEURONS_PER_CLASS) -> tuple[int, int]:
    """Largest n ≥ 0 with ``on_chip(n)`` true, assuming it stays false past the first false; and the maps made.

    Doubling finds a value that is not on-chip, bisection closes in: O(log n) mappings.
    """
    calls = 0

    def test(n: int) -> bool:
        nonlocal calls
        calls += 1
        return on_chip(n)

    if not test(1):
        return 0, calls
    lo, hi = 1, 2
    while hi <= ceiling and test(hi):
        lo, hi = hi, hi * 2
    if hi > ceiling:
        return lo, calls
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if test(mid) else (lo, mid)
    return lo, calls


def run(params_path: str | Path = paths.PARAMS, extractor: str | Path = paths.EXTRACTOR,
        weights: str | Path = paths.NUM_WEIGHTS, data: str | Path = paths.DATA_METRICS,
        metrics: str | Path = paths.HARDWARE_METRICS, plot_csv: str | Path = paths.HARDWARE_CSV) -> dict:
    params = load_params(params_path)
    name, values = params.hardware.device, params.table.neurons_per_class
    num_weights = read_positive_int(weights, "num_weights", "weights")
    num_classes = read_positive_int(data, "num_classes", "fetch")
    load_model(extractor)  # a missing or unreadable file is the user's to fix, not a row

    def setting(npc: int) -> dict:
        return map_setting(extractor, npc, num_classes, num_weights, name, params.table.learning_competition)

    rows = {str(npc): setting(npc) for npc in values}
    limit, maps = largest_on_chip(lambda n: setting(n)["edge_on_chip"])
    result = {
        "device": name,
        "mapped_num_classes": num_classes,
        "mapped_num_weights": num_weights,
        "mapped_neurons_per_class": list(values),
        # the largest value whose edge layer stays in on-chip memory (0: none does); maps the search made
        "max_on_chip_neurons_per_class": limit,
        "bisection_maps": maps,
        "extractor": mapping_figures(load_model(extractor), name),
        "mapped_rows": rows,
    }
    write_json(metrics, result)
    lines = [",".join(PLOT_COLUMNS)]
    for npc in values:
        row = rows[str(npc)]
        cells = ["" if row.get(c) is None else str(int(row[c])) for c in PLOT_COLUMNS[1:]]  # empty: does not map
        lines.append(",".join([str(npc), *cells]))
    write_text(plot_csv, "\n".join(lines) + "\n")
    log.info("%s: the edge layer stays on-chip up to %d neurons per class (%d classes; %d maps)",
             name, limit, num_classes, maps)
    return result


def merge_into_table(t: dict, path: str | Path = paths.HARDWARE_METRICS) -> dict:
    """The table ``t`` (metrics/table.json) with the hardware columns in its rows and the on-chip limit."""
    path = Path(path)
    try:
        hw = json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgetuneError(f"{path}: not found; run the hardware stage first (dvc repro hardware)") from None
    except json.JSONDecodeError as exc:
        raise EdgetuneError(f"{path}: not valid JSON ({exc}); rerun dvc repro hardware") from None
    for key in ("num_weights", "num_classes"):
        if hw.get(f"mapped_{key}") != t[f"table_{key}"]:
            raise EdgetuneError(f"{path}: mapped with {key} = {hw.get(f'mapped_{key}')!r}, but the table trained with "
                                f"{t[f'table_{key}']!r}; "
                                "it is stale, rerun dvc repro hardware")
    missing = [v for v in t["neurons_per_class"] if str(v) not in hw.get("mapped_rows", {})]
    if missing:
        raise EdgetuneError(f"{path}: no mapping for neurons_per_class {missing}; rerun dvc repro hardware")
    for key, row in t["rows"].items():
        row.update({c: hw["mapped_rows"][key][c] for c in TABLE_COLUMNS})
    t["hardware"] = {"device": hw["device"], "max_on_chip_neurons_per_class": hw["max_on_chip_neurons_per_class"]}
    return t


def _kb(n: int | None) -> str:
    return "–" if n is None else "0" if n == 0 else f"{n / 1000:.1f} kB"


def sentence(t: dict) -> str:
    """Where accuracy stops rising next to where the edge layer leaves on-chip memory ("" without hardware)."""
    if "hardware" not in t:
        return ""
    hw, plateau = t["hardware"], t["plateau_neurons_per_class"]
    limit = hw["max_on_chip_neurons_per_class"]
    where = (f"on a virtual {hw['device']} the edge layer never fits in on-chip memory: even 1 neuron per class "
             "puts its weights in external memory" if limit == 0 else
             f"on a virtual {hw['device']} the edge layer stays in on-chip memory up to **{limit}**; "
             f"beyond {limit} its weights move to external memory")
    return f"Accuracy stops rising at **{plateau}** neurons per class; {where} (found by mapping alone)."


def markdown(t: dict) -> str:
    """The hardware half of metrics/table.md: one row per value, the engine's figures ("" without hardware)."""
    if "hardware" not in t:
        return ""
    lines = [f"## Hardware cost on a virtual {t['hardware']['device']}", "",
             "The deployed model (extractor + edge layer, learning compiled) mapped with "
             "`model.map(device, hw_only=True)`.", "",
             "| Nb. neurons | Edge layer memory | Components | Program | External memory | Learns on device |",
             "|---:|---|---|---:|---:|---|"]
    for key in map(str, t["neurons_per_class"]):
        r = t["rows"][key]
        if not r["maps"]:
            lines.append(f"| {key} | {r['reason']} | | | | no |")
            continue
        nps = ", ".join(f"{n} {name}" for name, n in r["components"].items())
        lines.append(f"| {key} | {r['edge_memory']} ({r['edge_np']}) | {nps} | {_kb(r['program_bytes'])} "
                     f"| {_kb(r['external_bytes'])} | {'yes' if r['learns_on_device'] else 'no'} |")
    return "\n".join(["", *lines, "", sentence(t), ""])
