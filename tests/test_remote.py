"""The DVC remote: a fresh clone's `dvc pull`, `make review` of a change, and a team on one S3 remote.

All on the toy pipeline (tests/toy_pipeline.py), whose ``figures/toy.svg`` lives in DVC's cache, not
in git — as ``plots/table.png`` and the report's figures do. The S3 remote is a real S3-compatible
server (moto in server mode) on 127.0.0.1, started and stopped here.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DvcProject, project_env
from test_experiments import md_rows
from toy_pipeline import make_toy_project, ran_stages

SVG = "figures/toy.svg"


def clone(source: str | Path, dest: Path, remote_url: str | None = None, extra: str = "", branch: str = "") -> DvcProject:
    """``git clone`` as a teammate does, with the remote the documented way (``.dvc/config.local``)."""
    subprocess.run(["git", "clone", "-q", *(["-b", branch] if branch else []), str(source), str(dest)],
                   check=True, capture_output=True)
    project = DvcProject(dest)
    project.run("git", "config", "user.email", "teammate@edgetune.local")
    project.run("git", "config", "user.name", "teammate")
    if remote_url is not None:
        (dest / ".dvc" / "config.local").write_text(f"['remote \"shared\"']\n    url = {remote_url}\n{extra}")
    return project


def local_remote(project: DvcProject) -> str:
    return str(project.root.parent / "dvc-remote")  # what conftest.copy_project set in config.local


def test_fresh_clone_pulls_every_output_and_reviews_both_sides_of_cached_figures(dvc_project, tmp_path):
    project = make_toy_project(dvc_project, gain=2)
    for gain in (2, 3):  # two commits, each reproduced and pushed as `make repro` does
        project.set_params(toy={"gain": gain})
        project.run("dvc", "repro")
        project.run("dvc", "push")
        project.commit(f"gain {gain}")

    # A fresh clone restores every output from the remote and has nothing to rerun.
    other = clone(project.root, tmp_path / "clone", local_remote(project))
    assert not (other.root / SVG).exists()  # in DVC's cache, not in git
    pulled = other.run("dvc", "pull").stdout
    assert re.search(rf"A\s+{re.escape(SVG)}", pulled), pulled
    assert (other.root / SVG).read_bytes() == (project.root / SVG).read_bytes()
    assert "Data and pipelines are up to date." in other.run("dvc", "status").stdout
    repro = other.run("dvc", "repro").stdout
    assert ran_stages(repro) == [] and "Data and pipelines are up to date." in repro, repro

    # Its cache holds HEAD's figure only; the review fetches HEAD~1's and shows both sides.
    other.run("python", "tools/review.py", "--base", "HEAD~1")
    report = (other.root / "review" / "report.md").read_text()
    section = report.split(f"### `{SVG}`")[1].split("###")[0]
    images = dict(re.findall(rf"!\[{re.escape(SVG)} at ([^\]]+)\]\(([^)]+)\)", section))
    assert set(images) == {"HEAD~1", "workspace"}, section
    sides = {side: (other.root / "review" / rel).read_text() for side, rel in images.items()}
    assert "gain 2" in sides["HEAD~1"] and "gain 3" in sides["workspace"]
    assert "(absent)" not in report  # the CSV plot too: every figure has both sides


# --- a team on one S3 remote -----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3_server(tmp_path):
    """moto's S3-compatible server on 127.0.0.1 (real HTTP), with an empty bucket ``edgetune``."""
    port = free_port()
    log = open(tmp_path / "moto.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=project_env())
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "moto.log").read_text()
                time.sleep(0.2)
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="team",
                     aws_secret_access_key="secret").create_bucket(Bucket="edgetune")
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def s3_config(endpoint: str) -> str:
    return (f"    endpointurl = {endpoint}\n    access_key_id = team\n    secret_access_key = secret\n"
            "    region = us-east-1\n")


def test_two_machines_share_experiments_through_s3(dvc_project, tmp_path, s3_server):
    origin = tmp_path / "origin.git"  # the team's git server
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    url, extra = "s3://edgetune/dvc", s3_config(s3_server)

    # Machine A: the project, its remote pointed at S3 (config.local: credentials stay out of git).
    a = make_toy_project(dvc_project, gain=2)
    (a.root / ".dvc" / "config.local").write_text(f"['remote \"shared\"']\n    url = {url}\n{extra}")
    a.run("dvc", "repro")
    a.run("dvc", "push")
    a.commit("baseline")
    a.run("git", "remote", "add", "origin", str(origin))
    a.run("git", "push", "-q", "origin", "HEAD:refs/heads/main")

    # A runs two experiments, then shares them (git refs to origin, cached outputs to S3). Queued
    # ones are the same experiments, run by workers (tests/test_experiments.py): run here directly,
    # to keep the test short.
    for gain in (4, 5):
        a.run("dvc", "exp", "run", "-S", f"toy.gain={gain}")
    names = a.run("dvc", "exp", "ls", "--name-only").stdout.split()
    assert len(names) == 2, names
    pushed = a.run("dvc", "exp", "push", "origin", *names)
    assert "Pushed experiment" in pushed.stdout + pushed.stderr

    # Machine B: a fresh clone of the git server, the same S3 remote; pulls A's experiments.
    b = clone(origin, tmp_path / "machine-b", url, extra, branch="main")
    b.run("dvc", "pull")
    assert "gain 2" in (b.root / SVG).read_text()
    b.run("dvc", "exp", "pull", "origin", *names)
    rows = {row["Experiment"]: row for row in md_rows(b.run("dvc", "exp", "show", "--md").stdout)}
    by_gain = {row["toy.gain"]: name for name, row in rows.items() if "[" in name}
    assert set(by_gain) == {"4", "5"}, rows.keys()
    # the experiment's cached figure came from S3: B never ran it
    five = re.search(r"\[(.+)\]", by_gain["5"]).group(1)
    b.run("dvc", "exp", "apply", five)
    assert "gain 5" in (b.root / SVG).read_text()
    assert ran_stages(b.run("dvc", "repro").stdout) == []
