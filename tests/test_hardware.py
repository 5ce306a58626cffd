"""The hardware stage: small real models mapped onto the engine's virtual devices, checked against its summary."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path

import akida
import numpy as np
import pandas as pd
import pytest
import yaml

from akida_fixtures import make_tiny_extractor
from edgetune import mapping
from edgetune.extractor import build as extractor
from edgetune.edge import hardware, table
from edgetune.dataset import save_dataset
from edgetune.edge.layer import LAYER_NAME
from edgetune.errors import EdgetuneError
from spike_fixtures import tiny_kws
from test_table import fake_seeds, tiny_akida2_extractor, write_results

CLASSES, NUM_WEIGHTS = 3, 8
# 3 classes of a 24-wide extractor: 2 per class (6 units) fits one FNP3 with room to spare;
# 2,000 per class (6,000 units) does not; 43,691 per class (131,073 units) overflows a 17-bit field
ON_CHIP, EXTERNAL, TOO_MANY = 2, 2000, 43691


@pytest.fixture(scope="module")
def extractors(tmp_path_factory) -> dict[int, Path]:
    """Tiny real spike extractors, 24 wide (as the other stage tests) and 64 wide (a user's own)."""
    root = tmp_path_factory.mktemp("extractors")
    x = tiny_kws().x_train
    paths = {w: root / f"w{w}.fbz" for w in (24, 64)}
    for width, path in paths.items():
        make_tiny_extractor(path, x, width=width)
    return paths


def summary_of(model: akida.Model) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.summary()
    return out.getvalue()


def parse_summary(text: str) -> dict:
    """What akida's printed summary says: NPs, external bytes, components, program bytes, the edge layer's cells."""
    header, _, values = re.search(r"^(Input shape.*)\n(=+)\n(.*)$", text, re.M).groups()
    cells = dict(zip(re.split(r"\s{2,}", header.strip()), re.split(r"\s{2,}", values.strip())))
    components = dict(re.findall(r"^(HRC|CNP1|CNP2|FNP2|FNP3)\s+(\d+)\s*$", text, re.M))
    edge = re.search(rf"^{LAYER_NAME} \(Fully\.\)\s.*?(\d+) (FNP\d)\s*$", text, re.M)
    edge_external = re.search(rf"^{LAYER_NAME} \(Fully\.\)\s+(\d+)\s*$", text, re.M)
    return {
        "nps": int(cells["NPs"]),
        "external_bytes": int(cells["External Memory (Bytes)"]),
        "components": {k: int(v) for k, v in sorted(components.items())},
        "program_bytes": sum(int(n) for n in re.findall(r"size: (\d+) bytes", text)),
        "edge_nps": int(edge.group(1)),
        "edge_np": edge.group(2),
        "edge_external_bytes": int(edge_external.group(1)) if edge_external else 0,
    }


@pytest.mark.parametrize("width, npc, on_chip", [(24, ON_CHIP, True), (24, EXTERNAL, False), (64, EXTERNAL, False)])
@pytest.mark.parametrize("device", ["AKD1000", "AKD1500"])
def test_row_is_what_the_engines_summary_says(extractors, width, npc, on_chip, device):
    row = hardware.map_setting(extractors[width], npc, CLASSES, NUM_WEIGHTS, device)
    model = hardware.deployed_model(extractors[width], npc * CLASSES, CLASSES, NUM_WEIGHTS, 0.1)
    model.map(getattr(akida, device)(), hw_only=True)
    said = parse_summary(summary_of(model))
    assert row["maps"] is True and row["reason"] is None and row["units"] == npc * CLASSES
    for key, value in said.items():
        assert row[key] == value, key
    assert row["edge_on_chip"] is on_chip and row["edge_memory"] == ("on-chip" if on_chip else "external")
    assert (row["edge_external_bytes"] == 0) is on_chip and (row["external_bytes"] > 0) is not on_chip
    assert row["learns_on_device"] is True  # one FNP, compiled, in the hardware sequence
    assert "Learning Summary" in summary_of(model)


def test_the_extractor_alone_has_no_edge_layer_and_does_not_learn(extractors):
    model = mapping.load_model(extractors[24])
    figures = mapping.mapping_figures(model, "AKD1000")
    said = parse_summary(summary_of(model).replace("spikes (Fully.)", f"{LAYER_NAME} (Fully.)"))
    assert {k: figures[k] for k in ("nps", "external_bytes", "components", "program_bytes")} == \
        {k: said[k] for k in ("nps", "external_bytes", "components", "program_bytes")}
    assert mapping.layer_figures(model, LAYER_NAME)["learns_on_device"] is False  # not compiled, no edge layer


def test_a_model_the_engine_refuses_is_a_row_with_its_reason(extractors, tmp_path):
    row = hardware.map_setting(extractors[24], TOO_MANY, CLASSES, NUM_WEIGHTS, "AKD1000")
    model = hardware.deployed_model(extractors[24], TOO_MANY * CLASSES, CLASSES, NUM_WEIGHTS, 0.1)
    with pytest.raises(RuntimeError) as refused:
        model.map(akida.AKD1000(), hw_only=True)
    assert row["maps"] is False and row["reason"] == f"does not map: {refused.value}"
    assert row["program_bytes"] is None and row["learns_on_device"] is False and row["edge_on_chip"] is False
    assert set(row) == set(hardware.EMPTY_ROW)
    # an Akida 2.0 extractor: the engine refuses the Akida 1.0 edge layer after it
    tiny_akida2_extractor(tmp_path / "v2.fbz", 24)
    v2 = hardware.map_setting(tmp_path / "v2.fbz", ON_CHIP, CLASSES, NUM_WEIGHTS, "AKD1000")
    with pytest.raises(ValueError) as refused:
        hardware.deployed_model(tmp_path / "v2.fbz", ON_CHIP * CLASSES, CLASSES, NUM_WEIGHTS, 0.1)
    assert v2["maps"] is False and v2["reason"] == f"does not map: {refused.value}"


def test_bisection_agrees_with_mapping_the_values_around_it(extractors):
    def on_chip(npc: int) -> bool:
        return hardware.map_setting(extractors[24], npc, CLASSES, NUM_WEIGHTS, "AKD1000")["edge_on_chip"]

    limit, maps = hardware.largest_on_chip(on_chip)
    assert ON_CHIP <= limit < EXTERNAL
    assert on_chip(limit) and not on_chip(limit + 1)
    assert maps <= 2 * limit.bit_length() + 2
    assert hardware.largest_on_chip(lambda n: n <= 37) == (37, 1 + 6 + 5)  # 1, doubling to 64, then 5 halvings
    assert hardware.largest_on_chip(lambda n: False) == (0, 1)


def stage_inputs(root: Path, extractor_path: Path, values=(ON_CHIP, 100, EXTERNAL, TOO_MANY), device="AKD1000") -> None:
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "models/extractor.fbz").write_bytes(extractor_path.read_bytes())
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics/weights.json").write_text(json.dumps({"num_weights": NUM_WEIGHTS}))
    (root / "results").mkdir(exist_ok=True)
    (root / "results/num_weights.json").write_text(json.dumps({"num_weights": NUM_WEIGHTS}))
    (root / "metrics/data.json").write_text(json.dumps({"num_classes": CLASSES}))
    params = yaml.safe_load((root / "params.yaml").read_text()) if (root / "params.yaml").exists() else {}
    params["table"] = {**params.get("table", {}), "neurons_per_class": list(values), "reference": values[0],
                       "seeds": [0, 1, 2], "timing_repeats": 3}
    params["hardware"] = {"device": device}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, default_flow_style=False))


def test_table_rows_carry_the_hardware_columns(extractors, tmp_path):
    stage_inputs(tmp_path, extractors[24])
    hw = hardware.run(tmp_path / "params.yaml", tmp_path / "models/extractor.fbz", tmp_path / "metrics/weights.json",
                      tmp_path / "metrics/data.json", tmp_path / "hardware.json", tmp_path / "hardware.csv")
    values = [ON_CHIP, 100, EXTERNAL, TOO_MANY]
    write_results(tmp_path / "results", fake_seeds({v: [0.9, 0.91, 0.92] for v in values}, {v: 1 for v in values},
                                                   reference=ON_CHIP, num_classes=CLASSES))
    out = [tmp_path / n for n in ("table.json", "table.md", "table.csv", "table_time.csv", "per_class.csv", "table.png")]
    t = table.run(tmp_path / "params.yaml", tmp_path / "results", *out, hardware_metrics=tmp_path / "hardware.json")
    for v in values:
        row = t["rows"][str(v)]
        assert {c: row[c] for c in hardware.TABLE_COLUMNS} == {c: hw["mapped_rows"][str(v)][c] for c in hardware.TABLE_COLUMNS}
        assert "val_accuracy" in row
    assert t["hardware"] == {"device": "AKD1000", "max_on_chip_neurons_per_class": hw["max_on_chip_neurons_per_class"]}
    md = out[1].read_text()
    assert f"| {ON_CHIP} | on-chip (FNP3) |" in md and f"| {EXTERNAL} | external (FNP2) |" in md
    assert f"| {TOO_MANY} | does not map: Cannot map layer" in md
    limit = hw["max_on_chip_neurons_per_class"]
    assert f"stays in on-chip memory up to **{limit}**; beyond {limit} its weights move to external memory" in md
    csv = pd.read_csv(tmp_path / "hardware.csv")
    assert csv.neurons_per_class.tolist() == values and csv.edge_on_chip.tolist() == [1, 1, 0, 0]
    assert csv.program_bytes.tolist()[:3] == [hw["mapped_rows"][str(v)]["program_bytes"] for v in values[:3]]
    assert np.isnan(csv.program_bytes.iloc[3])  # does not map: no figure, not a zero
    # a hardware file made for another num_weights is stale, said in one line
    stale = {**hw, "mapped_num_weights": NUM_WEIGHTS + 1}
    (tmp_path / "stale.json").write_text(json.dumps(stale))
    with pytest.raises(EdgetuneError, match=r"stale.json: mapped with num_weights = 9, .*rerun dvc repro hardware"):
        table.run(tmp_path / "params.yaml", tmp_path / "results", *out, hardware_metrics=tmp_path / "stale.json")


def test_extractor_metrics_carry_its_own_mapping_on_each_device(extractors, tmp_path):
    save_dataset(tmp_path / "kws.npz", tiny_kws())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"extractor": {"source": "file", "path": str(extractors[64])}}))
    metrics = extractor.run(tmp_path / "params.yaml", tmp_path / "kws.npz", tmp_path / "e.fbz", tmp_path / "e.json")
    assert set(metrics["hardware"]) == set(mapping.DEVICES)
    for name, figures in metrics["hardware"].items():
        model = akida.Model(str(tmp_path / "e.fbz"))
        model.map(mapping.device(name), hw_only=True)
        said = parse_summary(summary_of(model).replace("spikes (Fully.)", f"{LAYER_NAME} (Fully.)"))
        assert figures["maps"] and figures["program_bytes"] == said["program_bytes"]
        assert figures["components"] == said["components"] and figures["external_bytes"] == said["external_bytes"]
    assert json.loads((tmp_path / "e.json").read_text())["hardware"] == metrics["hardware"]


def ran(stdout: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", stdout))


def test_dvc_stage_maps_every_value_and_reruns_on_its_params_only(dvc_project, extractors):
    root = dvc_project.root
    dvc_project.only_stages("hardware")
    stage_inputs(root, extractors[24], values=(ON_CHIP, EXTERNAL))
    dvc_project.commit("tiny inputs")
    assert ran(dvc_project.run("dvc", "repro").stdout) == {"hardware"}
    hw = json.loads((root / "metrics/hardware.json").read_text())
    assert list(hw["mapped_rows"]) == [str(ON_CHIP), str(EXTERNAL)] and hw["device"] == "AKD1000"
    assert hw["mapped_rows"][str(ON_CHIP)]["edge_on_chip"] and not hw["mapped_rows"][str(EXTERNAL)]["edge_on_chip"]
    assert ON_CHIP <= hw["max_on_chip_neurons_per_class"] < EXTERNAL
    assert pd.read_csv(root / "plots/hardware.csv").neurons_per_class.tolist() == [ON_CHIP, EXTERNAL]
    shown = json.loads(dvc_project.run("dvc", "metrics", "show", "--json").stdout)
    read = shown[""]["data"]["metrics/hardware.json"]["data"]  # a metrics file DVC reads and diffs
    for key in ("program_bytes", "external_bytes", "nps", "edge_on_chip"):
        assert read["mapped_rows"][str(EXTERNAL)][key] == hw["mapped_rows"][str(EXTERNAL)][key]
    assert ran(dvc_project.run("dvc", "repro").stdout) == set()
    dvc_project.set_params(hardware={"device": "AKD1500"})
    assert ran(dvc_project.run("dvc", "repro").stdout) == {"hardware"}
    assert json.loads((root / "metrics/hardware.json").read_text())["device"] == "AKD1500"
    dvc_project.set_params(table={"tolerance": 0.1})  # the table's own param: nothing to map again
    assert ran(dvc_project.run("dvc", "repro").stdout) == set()
    dvc_project.set_params(hardware={"device": "AKD2000"})
    proc = dvc_project.run("dvc", "repro", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "hardware.device = 'AKD2000': Input should be 'AKD1000' or 'AKD1500'" in proc.stderr


def test_missing_inputs_are_one_clear_line(extractors, tmp_path):
    stage_inputs(tmp_path, extractors[24])
    args = dict(params_path=tmp_path / "params.yaml", extractor=tmp_path / "models/extractor.fbz",
                weights=tmp_path / "metrics/weights.json", data=tmp_path / "metrics/data.json",
                metrics=tmp_path / "hw.json", plot_csv=tmp_path / "hw.csv")
    with pytest.raises(EdgetuneError, match=r"nowhere.fbz: not found; run the extractor stage first"):
        hardware.run(**{**args, "extractor": tmp_path / "nowhere.fbz"})
    (tmp_path / "metrics/data.json").write_text("{}")
    with pytest.raises(EdgetuneError, match=r"data.json: no integer 'num_classes' in it; rerun dvc repro fetch"):
        hardware.run(**args)
    assert not (tmp_path / "hw.json").exists()


def test_bench_reports_what_mapping_adds_to_the_table():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_all", Path(__file__).resolve().parents[1] / "bench/run_all.py")
    run_all = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = run_all  # its dataclasses look their module up
    spec.loader.exec_module(run_all)

    def timed(seconds: float):
        return run_all.Run(["dvc"], seconds, 100.0, 0, "")

    cold = [("weights", timed(50)), ("table-train@10", timed(30)), ("table-train@50", timed(60)),
            ("hardware", timed(2.0)), ("table", timed(10))]
    assert run_all.mapping_row(cold) == "| mapping: stage `hardware` / the table's stages | 2.0 s / 100.0 s = 2.0 % | 10 % | 0.20 | ok |"
    assert "over target" in run_all.mapping_row([("table", timed(10)), ("hardware", timed(2.0))])
    assert run_all.mapping_row(cold[:3]) is None  # no hardware stage: nothing to say
