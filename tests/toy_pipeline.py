"""A tiny three-stage pipeline written into a ``dvc_project`` copy, in place of the real stages.

The workflow tests (offline plots, review, experiments, benchmarks) are about DVC's machinery, not
about the science, so they run it on stages that take a fraction of a second:

- ``toy`` reads params ``toy`` and its own code (``stages/toy.py`` + ``src/toycode.py``), prints
  when it ran (``TOY_HOLD_SECONDS`` in the environment holds it that long), writes
  ``metrics/toy.json``, the plot ``plots/toy.csv`` (value = gain × step) and ``figures/toy.svg``,
  an image plot kept in DVC's cache (not in git) like the real pipeline's PNGs;
- ``other`` reads params ``other`` only;
- ``summary`` follows both (like the report follows the sweep).

The stage scripts follow the project's convention (their checkout's ``src/`` first on
``sys.path``), so ``toycode.CODE_VERSION`` tells which snapshot of the code a run imported.
"""

from __future__ import annotations

import re
import textwrap

from conftest import DvcProject

TOY_STAGE = '''
"""Toy stage: a metrics file and a plot CSV from params ``toy``."""
import csv
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import yaml  # noqa: E402

from toycode import CODE_VERSION  # noqa: E402

start = time.time()
time.sleep(float(os.environ.get("TOY_HOLD_SECONDS", "0")))  # lets a test see two queued runs overlap
params = yaml.safe_load(Path("params.yaml").read_text())["toy"]
rows = [{"step": step, "value": params["gain"] * step} for step in range(params["points"])]
Path("plots").mkdir(exist_ok=True)
with open("plots/toy.csv", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=["step", "value"])
    writer.writeheader()
    writer.writerows(rows)
Path("metrics").mkdir(exist_ok=True)
metrics = {"gain": params["gain"], "total": sum(r["value"] for r in rows), "code_version": CODE_VERSION}
Path("metrics/toy.json").write_text(json.dumps(metrics, sort_keys=True) + "\\n")
# a figure in DVC's cache (not in git), as plots/table.png and the report's figures are
Path("figures").mkdir(exist_ok=True)
Path("figures/toy.svg").write_text(
    f'<svg xmlns="http://www.w3.org/2000/svg" width="60" height="20"><text y="15">gain {params["gain"]}</text></svg>\\n')
print(f"toy: code {CODE_VERSION} from {Path(__file__).resolve()}")
print(f"toy: ran from {start:.3f} to {time.time():.3f}")
'''

OTHER_STAGE = '''
"""Toy stage that depends on params ``other`` only."""
import json
from pathlib import Path

import yaml

offset = yaml.safe_load(Path("params.yaml").read_text())["other"]["offset"]
Path("metrics").mkdir(exist_ok=True)
Path("metrics/other.json").write_text(json.dumps({"offset": offset}) + "\\n")
'''

SUMMARY_STAGE = '''
"""Toy stage downstream of both others."""
import json
from pathlib import Path

toy = json.loads(Path("metrics/toy.json").read_text())
other = json.loads(Path("metrics/other.json").read_text())
Path("metrics/summary.json").write_text(json.dumps({"score": toy["total"] + other["offset"]}) + "\\n")
'''

DVC_YAML = """
stages:
  toy:
    cmd: python stages/toy.py
    deps:
    - stages/toy.py
    - src/toycode.py
    params:
    - toy
    outs:
    - plots/toy.csv:
        cache: false
    - figures/toy.svg
    metrics:
    - metrics/toy.json:
        cache: false
  other:
    cmd: python stages/other.py
    deps:
    - stages/other.py
    params:
    - other
    metrics:
    - metrics/other.json:
        cache: false
  summary:
    cmd: python stages/summary.py
    deps:
    - stages/summary.py
    - metrics/toy.json
    - metrics/other.json
    metrics:
    - metrics/summary.json:
        cache: false
plots:
- plots/toy.csv:
    x: step
    y: value
    title: toy curve
- figures/toy.svg
"""


def set_code_version(project: DvcProject, version: int) -> None:
    (project.root / "src" / "toycode.py").write_text(f"CODE_VERSION = {version}\n")


def make_toy_project(project: DvcProject, gain: int = 2, points: int = 6) -> DvcProject:
    """Replace the copy's pipeline with the toy one and commit it (not yet reproduced)."""
    root = project.root
    (root / "dvc.yaml").write_text(textwrap.dedent(DVC_YAML).lstrip())
    (root / "stages").mkdir(exist_ok=True)
    (root / "stages" / "toy.py").write_text(TOY_STAGE.lstrip())
    (root / "stages" / "other.py").write_text(OTHER_STAGE.lstrip())
    (root / "stages" / "summary.py").write_text(SUMMARY_STAGE.lstrip())
    set_code_version(project, 1)
    project.set_params(toy={"gain": gain, "points": points}, other={"offset": 1})
    project.commit("toy pipeline")
    return project


def ran_stages(output: str) -> list[str]:
    """Stage names DVC says it ran (``Running stage 'NAME':``) in its output."""
    return re.findall(r"Running stage '([^']+)'", output)
