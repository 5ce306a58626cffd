"""Shared test fixtures: a throwaway copy of the project as its own git + DVC repository.

Tests of stages run the real ``dvc repro`` in such a copy, so what they check is what a user gets.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edgetune.params import read_yaml_as_dvc_does

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# What a pipeline copy needs; tests/, bench/ and docs stay behind.
# assets/ holds the offline plots template that .dvc/config names.
PROJECT_PARTS = (
    "dvc.yaml", "params.yaml", "stages", "tools", "src", "assets", ".dvc/config", ".dvc/.gitignore", ".dvc/plots", ".dvcignore", ".gitignore",
    "results/extractor_seeds.json",  # committed, not a stage's output: the report reads it
)


def project_env() -> dict[str, str]:
    """Environment for subprocesses: the venv's python first on PATH, TensorFlow quiet."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.pop("PYTHONPATH", None)
    return env


def stage_main(name: str):
    """``main`` of ``stages/<name>.py``, loaded from the file as ``python stages/<name>.py`` runs it."""
    spec = importlib.util.spec_from_file_location(f"{name}_stage", REPO / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def run_stage_main(name: str, params: Path, capsys) -> tuple[int, str]:
    """Run a stage in-process with ``--params params``: its status and its stderr without the download progress bar."""
    status = stage_main(name)(["--params", str(params)])
    err = capsys.readouterr().err
    return status, "".join(line for line in err.splitlines(keepends=True) if "\r" not in line and "B/s" not in line)


class DvcProject:
    """A copy of the pipeline in ``root``, committed in a fresh git repository."""

    def __init__(self, root: Path):
        self.root = root

    def run(self, *args: str, check: bool = True, timeout: float = 900,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run a command (e.g. ``"dvc", "repro", "fetch"``) in the project; output captured as text.
        ``env`` adds to (or overrides) the project's environment."""
        cmd = list(args)
        if cmd[0] == "dvc":
            cmd = [sys.executable, "-m", "dvc", *cmd[1:]]
        proc = subprocess.run(cmd, cwd=self.root, env={**project_env(), **(env or {})}, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def params(self) -> dict:
        return read_yaml_as_dvc_does((self.root / "params.yaml").read_text())  # as DVC and the stages read it

    def set_params(self, **sections: dict) -> None:
        """Merge ``section={key: value}`` into params.yaml (block-style lists, as DVC wants)."""
        params = self.params()
        for section, values in sections.items():
            params.setdefault(section, {}).update(values)
        (self.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, default_flow_style=False))

    def only_stages(self, *names: str) -> None:
        """Keep only these stages in dvc.yaml: upstream outputs the test writes become plain inputs.

        With the upstream stages present but never run, ``dvc exp run`` would check out their
        (unknown) outputs and delete the files the test placed.
        """
        dvc_yaml = self.root / "dvc.yaml"
        pipeline = yaml.safe_load(dvc_yaml.read_text())
        unknown = set(names) - set(pipeline["stages"])
        assert not unknown, f"no such stage(s) in dvc.yaml: {sorted(unknown)}"
        pipeline["stages"] = {k: v for k, v in pipeline["stages"].items() if k in names}
        dvc_yaml.write_text(yaml.safe_dump(pipeline, sort_keys=False, allow_unicode=True))

    def commit(self, message: str = "test") -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", message)


def copy_project(dest: Path) -> DvcProject:
    dest.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules"))
        elif src.exists():
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / part)
    project = DvcProject(dest)
    # The default remote is ~/.cache/edgetune/dvc-remote (.dvc/config): tests use their own, the
    # documented way (`dvc remote modify --local`), so they never touch the user's.
    (dest / ".dvc" / "config.local").write_text(f"['remote \"shared\"']\n    url = {dest.parent / 'dvc-remote'}\n")
    project.run("git", "init", "-q")
    project.run("git", "config", "user.email", "tests@edgetune.local")
    project.run("git", "config", "user.name", "edgetune tests")
    project.commit("project copy")
    return project


# The slowest files (seconds on 2 cores, one worker), run first. Under xdist (--dist loadfile,
# --no-loadscope-reorder in pyproject.toml) each file goes whole to a worker in collection order,
# so a long file started last would leave the other core idle at the end.
SLOWEST_FIRST = (
    "test_report.py",  # ≈ 130 s
    "test_extractor.py",  # ≈ 120 s
    "test_experiments.py",  # ≈ 80 s
    "test_online_e2e.py",  # ≈ 60 s
    "test_cpu_independence.py",  # ≈ 60 s (the tiny pipeline twice)
    "test_your_data.py",  # ≈ 40 s (a cnn2snn extractor, then every stage)
    "test_cluster.py",  # ≈ 50 s (a loopback Dask cluster, a worker killed mid-run)
    "test_seed_spread.py",  # ≈ 40 s (two rounds of queued toy experiments)
    "test_table.py", "test_download_faults.py", "test_remote.py", "test_weights_stage.py",  # ≈ 30 s each
    "test_levers_extractor.py", "test_fetch_stage.py", "test_sweep.py", "test_fewshot.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file keeps its own order


@pytest.fixture
def dvc_project(tmp_path: Path) -> DvcProject:
    """A fresh copy of the pipeline in its own git repo, ready for ``dvc repro``."""
    return copy_project(tmp_path / "project")


@pytest.fixture
def loopback(tmp_path: Path):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/www``, counting requests, with injectable faults."""
    from loopback import Loopback

    root = tmp_path / "www"
    root.mkdir()
    server = Loopback(root).start()
    yield server
    server.stop()
