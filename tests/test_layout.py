"""The house's layout: phase packages whose imports only go down, small modules, dvc.yaml deps that
follow the code (checked with the real `dvc status`), and a README that is a first page."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REPO, DvcProject, copy_project

SRC = REPO / "src" / "edgetune"
PHASES = {"data": 1, "extractor": 2, "edge": 3, "report": 4}  # below them, rank 0: the shared ground
SHARED_PACKAGES = {"params"}  # packages of the shared ground (the schema of params.yaml, a module per section)
STAGE_PHASE = {
    "fetch": "data", "fetch-new-words": "data", "extractor": "extractor",
    "spikes": "edge", "weights": "edge", "sweep": "edge", "table-train": "edge",
    "hardware": "edge", "table": "edge", "fewshot": "edge", "confusion": "edge", "report": "report",
}
MAX_LINES = 300
README_MAX_BYTES = 8 * 1024


def rank(module: str) -> int:
    """0 for ``edgetune.x`` (shared ground), the phase's rank for ``edgetune.<phase>[.x]``."""
    parts = module.split(".")
    return PHASES.get(parts[1], 0) if len(parts) > 1 else 0


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every edgetune module ``path`` imports, wherever in the file (lazy imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "edgetune":
            if node.module == "edgetune" or node.module.count(".") == 1 and node.module.split(".")[1] in PHASES:
                found |= {f"{node.module}.{alias.name}" for alias in node.names}  # from edgetune[.phase] import m
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "edgetune"}
    return found


def stage_phase(stage: str) -> str:
    return STAGE_PHASE[stage.split("@")[0]]


def test_imports_only_go_down():
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        me = module_name(path)
        upward += [f"{me} imports {m}" for m in sorted(imported_modules(path)) if rank(m) > rank(me)]
    assert not upward, "\n".join(upward)


def test_every_phase_is_a_package_and_every_module_is_small():
    assert {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(PHASES) | SHARED_PACKAGES
    long = [f"{p.relative_to(REPO)}: {n} lines" for p in sorted(SRC.rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, "\n".join(long)


def test_dvc_yaml_deps_exist_and_never_reach_a_later_phase():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(stages) == set(STAGE_PHASE)
    problems = []
    for stage, spec in stages.items():
        for dep in spec["deps"]:
            if not dep.startswith("src/"):
                continue
            if not (REPO / dep).is_file():
                problems.append(f"{stage}: {dep} does not exist")
            elif rank(module_name(REPO / dep)) > PHASES[stage_phase(stage)]:
                problems.append(f"{stage} ({stage_phase(stage)}) depends on {dep}, of a later phase")
    assert not problems, "\n".join(problems)


def test_stages_holds_the_dvc_stages_scripts_and_nothing_else():
    commands = " ".join(str(spec["cmd"]) for spec in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].values())
    assert {p.name for p in (REPO / "stages").glob("*.py")} == set(re.findall(r"stages/(\w+\.py)", commands))


# Modules a stage imports (transitively) but leaves out of its deps, as dvc.yaml's first comment says:
# they do not shape the output bytes, so editing them reruns nothing.
NOT_SHAPING = {
    **{f"params/{m}.py": "validation (DVC tracks the params' values)" for m in ("base", "data", "extractor", "edge", "fewshot")},
    "paths.py": "where the files go, which dvc.yaml names itself",
    "vocabulary.py": "the word lists the params validate against (fetch and fetch-new-words, which say the words, list it)",
    "cli.py": "how a stage starts and reports an error", "atomic.py": "how files are written",
    "logs.py": "logging", "errors.py": "the error type", "timing.py": "wall-clock times, kept under metrics/time/",
    "portable.py": "TensorFlow's arithmetic, which only the extractor stage runs (and lists)",
}
FIGURES_OF_SPIKES = "edge/spikes.py's figures, the spikes stage's; this stage forwards spikes only"
OWN_IMPORTS_OF_TABLE_TRAIN = "table_train.py's own work, not the names this stage takes from it"
HARDWARE_MAPPING = "hardware.py's mapping, the hardware stage's work; this stage reads metrics/hardware.json"
WORKERS = {m: "how the workers start (the pool and its helpers), not what they compute: the same results on any "
              "number of workers (tested)" for m in ("edge/task_pool.py", "edge/sweep_pool.py")}
# Per stage: what it imports only for another stage's names or through a module it uses one thing of.
STAGE_NOT_SHAPING = {
    "weights": {"edge/sweep_pool.py": "how the factor curve's workers start (its pool helpers), not what they compute"},
    "extractor": {"charts.py": "confusion.py's figure, drawn by the report, not by this stage (it writes the CSV)"},
    "table": {
        "edge/table_train.py": "results/table's file names and timing label: a change reruns table-train, "
                               "whose results/table this stage depends on",
        "edge/whole_model.py": "the check's mode label, which comes back through results/table",
        **{m: OWN_IMPORTS_OF_TABLE_TRAIN for m in ("dataset.py", "edge/spikefile.py", "edge/whole_check.py",
                                                   "extractor/check.py", "edge/task_pool.py", "edge/sweep_pool.py")},
        "edge/layer.py": HARDWARE_MAPPING, "mapping.py": HARDWARE_MAPPING,
    },
    "fewshot": {
        "charts.py": FIGURES_OF_SPIKES, "edge/spikestats.py": FIGURES_OF_SPIKES,
        **{m: "new_words.py's synthesis, fetch-new-words' work; this stage reads data/new_words.npz"
           for m in ("data/synthetic.py", "data/tts.py", "data/piper_engine.py", "data/festival_engine.py",
                     "data/augment.py", "data/mfcc.py")},
        **{m: OWN_IMPORTS_OF_TABLE_TRAIN for m in ("edge/whole_check.py", "edge/whole_model.py")},
        **WORKERS,
    },
    "table-train": WORKERS,
    "confusion": {
        "charts.py": "confusion.py's figure, drawn by the report, not by this stage (it writes the CSV)",
        **{m: OWN_IMPORTS_OF_TABLE_TRAIN for m in ("dataset.py", "edge/whole_check.py", "edge/whole_model.py",
                                                   "extractor/check.py", "mapping.py", "edge/task_pool.py",
                                                   "edge/sweep_pool.py")},
    },
    "report": {
        **{m: "edge/sweep_curves.py's curves, the sweep stage's; this stage takes file_stem only"
           for m in ("edge/knee.py", "edge/sweep_pool.py", "edge/layer.py")},
        "edge/whole_model.py": "the check's mode label, which comes back through metrics/time/table.json",
        "extractor/check.py": "whole_model.py's own work", "mapping.py": HARDWARE_MAPPING,
    },
}


def module_file(module: str) -> Path | None:
    path = REPO / "src" / Path(*module.split("."))
    return next((p for p in (path.with_suffix(".py"), path / "__init__.py") if p.is_file()), None)


def imported_closure(script: Path) -> set[str]:
    """Every src/edgetune module ``script`` imports, directly or through another, lazy imports too."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for module in imported_modules(todo.pop()):
            path = module_file(module)
            assert path is not None, f"{module} (imported by the {script.name} closure) is no file of src/"
            if path not in seen:
                seen.add(path)
                todo.append(path)
    # a package's __init__.py: its docstring (and edgetune's __version__), nothing a stage writes
    return {str(p.relative_to(SRC)) for p in seen if p.name != "__init__.py"}


def test_dvc_yaml_deps_list_every_module_a_stage_imports():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(STAGE_NOT_SHAPING) <= set(stages)
    missing, stale = [], []
    for stage, spec in stages.items():
        imported = imported_closure(REPO / re.search(r"stages/\w+\.py", spec["cmd"]).group(0))
        listed = {dep.removeprefix("src/edgetune/") for dep in spec["deps"] if dep.startswith("src/")}
        allowed = {**NOT_SHAPING, **STAGE_NOT_SHAPING.get(stage, {})}
        missing += [f"{stage}: imports {m}, not in its deps" for m in sorted(imported - listed - set(allowed))]
        # an allowance per stage must still be needed: imported, and not listed after all
        stale += [f"{stage}: {m} is allowed but {'listed' if m in listed else 'not imported'}"
                  for m in sorted(STAGE_NOT_SHAPING.get(stage, {})) if m in listed or m not in imported]
    assert not missing, "\n".join(missing)
    assert not stale, "\n".join(stale)


@pytest.fixture(scope="module")
def locked(tmp_path_factory) -> DvcProject:
    """A project copy with the committed dvc.lock (no outputs: only the code deps matter here)."""
    project = copy_project(tmp_path_factory.mktemp("layout") / "project")
    shutil.copy2(REPO / "dvc.lock", project.root / "dvc.lock")
    project.commit("lock")
    return project


def modified_code(project: DvcProject) -> dict[str, set[str]]:
    """``dvc status --json``: the stages whose code deps (src/, stages/) changed, and which."""
    status = json.loads(project.run("dvc", "status", "--json").stdout or "{}")
    changed: dict[str, set[str]] = {}
    for stage, entries in status.items():
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for path, state in entry.get("changed deps", {}).items():
                if state == "modified" and path.startswith(("src/", "stages/")):
                    changed.setdefault(stage, set()).add(path)
    return changed


def test_committed_lock_matches_the_code(locked):
    assert modified_code(locked) == {}, "dvc.lock is older than the code: run dvc repro and commit dvc.lock"


def table_train_items() -> set[str]:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    return {f"table-train@{seed}" for seed in params["table"]["seeds"]}


EDGE_LAYER_USERS = {"weights", "sweep", "hardware", "fewshot", "confusion"}


@pytest.mark.parametrize("touched, expected", [
    ("src/edgetune/data/tts.py", lambda: {"fetch", "fetch-new-words"}),
    ("src/edgetune/extractor/dscnn.py", lambda: {"extractor"}),
    ("src/edgetune/edge/knee.py", lambda: {"sweep"}),
    ("src/edgetune/edge/layer.py", lambda: EDGE_LAYER_USERS | table_train_items()),
    ("src/edgetune/report/sections.py", lambda: {"report"}),
])
def test_editing_one_phase_reruns_only_its_stages(locked, touched, expected):
    path = locked.root / touched
    original = path.read_bytes()
    path.write_bytes(original + b"# touched by test_layout\n")
    try:
        changed = modified_code(locked)
    finally:
        path.write_bytes(original)
    assert set(changed) == expected(), changed
    assert all(paths == {touched} for paths in changed.values()), changed
    phase = touched.split("/")[2]
    assert all(PHASES[stage_phase(s)] >= PHASES[phase] for s in changed)


def markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.name)
def test_code_fences_are_balanced(path):
    fences = [line for line in path.read_text().splitlines() if line.lstrip().startswith("```")]
    assert len(fences) % 2 == 0, f"{path.name}: {len(fences)} fence lines, one is never closed"
    closers = fences[1::2]
    assert all(line.strip() == "```" for line in closers), f"{path.name}: a fence opens where one should close"


def test_readme_is_a_first_page():
    text = (REPO / "README.md").read_text()
    assert len(text.encode()) <= README_MAX_BYTES, f"README.md is {len(text.encode())} bytes"
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block and first_block.start() < 1500, "the two commands belong near the top"
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make repro", "make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text()  # what CI runs is what a newcomer types
    links = re.findall(r"\]\((docs/[^)#]+)\)", text)
    assert {f"docs/{stage}.md" for stage in ("fetch", "extractor", "spikes", "weights", "sweep", "hardware", "table",
                                             "fewshot", "report")} <= set(links)
    missing = [link for link in links if not (REPO / link).is_file()]
    assert not missing, missing


def test_the_paths_module_names_the_files_dvc_yaml_names():
    """One place for paths: each constant of edgetune.paths is a file dvc.yaml names (or holds
    one), and every output dvc.yaml names is one of them or lies under one."""
    from edgetune import paths

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    named = set()
    for stage in stages.values():
        body = stage.get("do", stage)
        for key in ("deps", "outs", "metrics", "plots"):
            named |= {e if isinstance(e, str) else next(iter(e)) for e in body.get(key) or []}
    named = {n.split("/seed-")[0] for n in named}  # the table-train items' files: under results/table
    constants = {k: v for k, v in vars(paths).items() if k.isupper()}
    assert constants["PARAMS"] == "params.yaml" and constants["EXTRACTOR_SEEDS"] in named  # a dep, not an output
    unnamed = sorted(k for k, v in constants.items() if k != "PARAMS" and v not in named
                     and not any(n.startswith(v + "/") for n in named))
    assert not unnamed, f"edgetune.paths names files dvc.yaml does not: {unnamed}"
    written = {e if isinstance(e, str) else next(iter(e)) for stage in stages.values()
               for key in ("outs", "metrics", "plots") for e in stage.get("do", stage).get(key) or []}
    time_files = {n for n in written if n.startswith("metrics/time/")}  # edgetune.timing.time_metrics_path
    stray = sorted(n for n in written - time_files if not any(
        n.split("/seed-")[0] == v or n.startswith(v + "/") for v in constants.values()))
    assert not stray, f"dvc.yaml writes files edgetune.paths does not name: {stray}"
