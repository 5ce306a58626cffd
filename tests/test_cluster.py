"""Seed spreads on a Dask cluster of real processes on 127.0.0.1: a scheduler, workers that each keep
their own clones and DVC cache (separate "machines"), a bare git remote and a DVC remote on disk."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from distributed import Client

from conftest import VENV_BIN, DvcProject, project_env
from edgetune import stats
from toy_pipeline import make_toy_project

SPREAD = ["--target", "toy", "--seed-param", "toy.gain", "--metrics", "metrics/toy.json", "--keys", "total"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackCluster:
    """`dask scheduler` and `dask worker` processes on 127.0.0.1, stopped (whole process groups) at the end."""

    def __init__(self, root: Path):
        self.root = root
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", self.address.rsplit(":", 1)[1],
                                 "--no-dashboard"], project_env())

    def start(self, name: str, args: list[str], env: dict) -> None:
        log = open(self.root / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen([str(VENV_BIN / "python"), "-m", "dask", *args],
                                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def worker(self, name: str, path: str | None = None, hold_seconds: float = 0.0) -> None:
        """A worker with a directory of its own; ``path``: its PATH (default: the project's venv first)."""
        home = self.root / name
        home.mkdir()
        env = {**project_env(), "EDGETUNE_WORKER_DIR": str(home), "TOY_HOLD_SECONDS": str(hold_seconds)}
        if path is not None:
            env["PATH"] = path
        self.start(name, ["worker", self.address, "--name", name, "--nthreads", "1", "--no-dashboard",
                          "--local-directory", str(home)], env)

    def wait_for(self, count: int) -> None:
        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(count, timeout=60)

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def cluster(tmp_path):
    c = LoopbackCluster(tmp_path)
    yield c
    c.stop()


def shared_project(dvc_project: DvcProject, tmp_path: Path) -> DvcProject:
    """The toy pipeline, reproduced, on a bare git remote 'origin' and its DVC remote."""
    project = make_toy_project(dvc_project, gain=2, points=4)
    project.run("dvc", "repro")
    project.commit("baseline")
    project.run("git", "init", "-q", "--bare", str(tmp_path / "remote.git"))
    project.run("git", "remote", "add", "origin", str(tmp_path / "remote.git"))
    project.run("git", "push", "-q", "origin", "HEAD:refs/heads/main")
    project.run("dvc", "push", "-q")
    return project


def test_runs_go_to_the_workers_and_a_killed_workers_run_completes_on_another(dvc_project, tmp_path, cluster):
    project = shared_project(dvc_project, tmp_path)
    cluster.worker("w1", hold_seconds=3)
    cluster.worker("w2", hold_seconds=3)
    cluster.wait_for(2)
    spread = subprocess.Popen(
        [str(VENV_BIN / "python"), "tools/seed_spread.py", "--cluster", cluster.address, *SPREAD, "--seeds", "1", "4",
         "--arm", "four", "--arm", "five toy.points=5"], cwd=project.root, env=project_env(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with Client(cluster.address, timeout="30s") as client:  # the test watches the scheduler; the tool does not
        deadline = time.monotonic() + 60
        while not any(client.processing(workers=[a]).get(a) for a, w in client.scheduler_info()["workers"].items()
                      if w["name"] == "w1"):
            assert time.monotonic() < deadline, "w1 never got a run"
            time.sleep(0.2)
    cluster.kill("w1")  # mid-run: its clone is gone with it, its run goes to w2
    out, err = spread.communicate(timeout=300)
    assert spread.returncode == 0, err
    for gain in (1, 4):  # each seed's own run: four points → 6 × gain, five points → 10 × gain
        assert re.search(rf"\| four \| {gain} \| {6 * gain:.1f} \|", out), out
        assert re.search(rf"\| five \| {gain} \| {10 * gain:.1f} \|", out), out
    gap = stats.estimate([4, 16])
    assert f"| five − four | paired | +{gap.mean:.1f} ± {gap.half_width:.1f} (within noise) |" in out
    # every run landed once on the git remote, and the submitter pulled them: nothing lost or duplicated
    refs = project.run("git", "ls-remote", str(tmp_path / "remote.git"), "refs/exps/*").stdout.split()[1::2]
    assert sorted(r.rsplit("/", 1)[1] for r in refs) == ["five-s1", "five-s4", "four-s1", "four-s4"]
    # w1 died inside a run (its clone stays, no script was left to remove it); w2 removed each of its own
    assert len([p for p in (tmp_path / "w1" / "edgetune" / "runs").iterdir() if p.is_dir()]) == 1
    assert list((tmp_path / "w2" / "edgetune" / "runs").iterdir()) == []
    # the same table as the local queue prints, from the pulled refs
    again = project.run("python", "tools/seed_spread.py", "--collect-only", *SPREAD, "--seeds", "1", "4",
                        "--arm", "four", "--arm", "five toy.points=5").stdout
    assert again == out


def test_a_worker_without_the_venv_an_unpushed_commit_and_an_unreachable_scheduler_are_one_line_each(dvc_project, tmp_path, cluster):
    project = shared_project(dvc_project, tmp_path)
    cluster.worker("bare", path="/usr/bin:/bin")
    cluster.wait_for(1)
    proc = project.run("python", "tools/seed_spread.py", "--cluster", cluster.address, *SPREAD, "--seeds", "1",
                       "--arm", "four", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert re.fullmatch(r"edgetune seed-spread: error: experiment four-s1: worker on \S+ \(pid \d+\): no `dvc` on its "
                        r"PATH; start the worker from the project's venv \(PATH=\.venv/bin:\$PATH dask worker …, "
                        r"docs/cluster\.md\)\n", proc.stderr), proc.stderr
    project.run("git", "commit", "-q", "--allow-empty", "-m", "not pushed")
    head = project.run("git", "rev-parse", "HEAD").stdout.strip()
    proc = project.run("python", "tools/seed_spread.py", "--cluster", cluster.address, *SPREAD, "--seeds", "1",
                       "--arm", "four", check=False)
    assert proc.returncode == 2 and proc.stderr == (
        f"edgetune seed-spread: error: commit {head[:12]} is on no branch of the git remote 'origin', which the "
        "workers clone: git push origin it first\n")
    project.run("git", "push", "-q", "origin", "HEAD:refs/heads/main")
    nowhere = f"tcp://127.0.0.1:{free_port()}"
    proc = project.run("python", "tools/seed_spread.py", "--cluster", nowhere, "--cluster-timeout", "2", *SPREAD,
                       "--seeds", "1", "--arm", "four", check=False)
    assert proc.returncode == 2 and proc.stderr == (
        f"edgetune seed-spread: error: EDGETUNE_DASK_SCHEDULER / --cluster {nowhere}: no Dask scheduler answered "
        "within 2 s; start one (dask scheduler) or leave it unset to use this machine's queue\n")
