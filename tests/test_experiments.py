"""The experiment loop docs/experiments.md documents, run for real on the toy pipeline in a temporary clone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

from conftest import project_env
from toy_pipeline import make_toy_project, ran_stages, set_code_version

QUEUE_WAIT_S = 150
HOLD_S = 10  # the toy stage's hold in the parallel test: longer than the two workers' start-up gap, under load too


def md_rows(table: str) -> list[dict[str, str]]:
    """Rows of the first markdown table in ``table`` as {header: cell}."""
    lines = [line for line in table.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]


def wait_for_queue(project) -> str:
    """Poll `dvc queue status` until nothing is queued or running (bounded)."""
    deadline = time.monotonic() + QUEUE_WAIT_S
    while True:
        status = project.run("dvc", "queue", "status").stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            return status
        assert time.monotonic() < deadline, f"queue still busy after {QUEUE_WAIT_S} s:\n{status}"
        time.sleep(2)


def test_exp_run_set_param_reruns_only_what_depends_on_it(dvc_project):
    project = make_toy_project(dvc_project, gain=2)
    project.run("dvc", "repro")
    project.commit("baseline")
    other_before = (project.root / "metrics" / "other.json").stat().st_mtime_ns

    proc = project.run("dvc", "exp", "run", "-S", "toy.gain=3")
    assert ran_stages(proc.stdout) == ["toy", "summary"], proc.stdout
    assert "Stage 'other' didn't change, skipping" in proc.stdout
    assert (project.root / "metrics" / "other.json").stat().st_mtime_ns == other_before
    assert json.loads((project.root / "metrics" / "toy.json").read_text())["total"] == 45

    metrics = project.run("dvc", "metrics", "diff", "--md").stdout
    assert re.search(r"\|\s*metrics/toy.json\s*\|\s*total\s*\|\s*30\s*\|\s*45\s*\|\s*15\s*\|", metrics), metrics
    params = project.run("dvc", "params", "diff", "--md").stdout
    assert re.search(r"\|\s*params.yaml\s*\|\s*toy.gain\s*\|\s*2\s*\|\s*3\s*\|", params), params


def ran_interval(project, name: str) -> tuple[float, float]:
    """When the toy stage of a queued experiment ran, from its log."""
    log = project.run("dvc", "queue", "logs", name).stdout
    match = re.search(r"toy: ran from ([\d.]+) to ([\d.]+)", log)
    assert match, log
    return float(match.group(1)), float(match.group(2))


def test_queued_experiments_run_in_parallel_each_with_its_own_code(dvc_project):
    project = make_toy_project(dvc_project, gain=2)
    project.run("dvc", "repro")
    project.commit("baseline")

    # Each queued experiment snapshots the workspace as it is when queued: code 2 for the first,
    # code 3 for the second; the workspace is back at code 1 when the queue runs.
    set_code_version(project, 2)
    project.run("dvc", "exp", "run", "--queue", "-S", "toy.gain=4", "-n", "gain4-code2")
    set_code_version(project, 3)
    project.run("dvc", "exp", "run", "--queue", "-S", "toy.gain=5", "-n", "gain5-code3")
    set_code_version(project, 1)
    try:
        # Output to a file: the detached workers inherit it, and a pipe would stay open (and
        # `queue start` look blocking) until they exit.
        with open(project.root.parent / "queue-start.log", "w") as log:
            subprocess.run(
                [sys.executable, "-m", "dvc", "queue", "start", "-j", "2"],
                cwd=project.root, env={**project_env(), "TOY_HOLD_SECONDS": str(HOLD_S)}, stdout=log,
                stderr=subprocess.STDOUT, check=True, timeout=120,
            )
        assert "Started '2' new experiments task queue workers" in (project.root.parent / "queue-start.log").read_text()
        status = wait_for_queue(project)
    finally:
        project.run("dvc", "queue", "stop", "--kill", check=False)
    assert re.search(r"gain4-code2\s.*Success", status) and re.search(r"gain5-code3\s.*Success", status), status
    # in parallel: each toy stage was held HOLD_S seconds, and the two holds overlapped
    (start4, end4), (start5, end5) = ran_interval(project, "gain4-code2"), ran_interval(project, "gain5-code3")
    assert end4 - start4 >= HOLD_S and end5 - start5 >= HOLD_S
    assert start4 < end5 and start5 < end4, f"ran one after the other: {start4}..{end4}, {start5}..{end5}"

    rows = {row["Experiment"]: row for row in md_rows(project.run("dvc", "exp", "show", "--md").stdout)}
    by_name = {re.search(r"\[(.+)\]", name).group(1): row for name, row in rows.items() if "[" in name}
    assert set(by_name) == {"gain4-code2", "gain5-code3"}, rows.keys()
    assert (by_name["gain4-code2"]["toy.gain"], by_name["gain4-code2"]["code_version"]) == ("4", "2")
    assert (by_name["gain5-code3"]["toy.gain"], by_name["gain5-code3"]["code_version"]) == ("5", "3")
    assert by_name["gain5-code3"]["total"] == "75"
    assert rows["workspace"]["code_version"] == "1"

    # The run imported the experiment's own snapshot, not the workspace's src/.
    log = project.run("dvc", "queue", "logs", "gain4-code2").stdout
    assert re.search(r"toy: code 2 from .*/\.dvc/tmp/exps/.*/stages/toy\.py", log), log
    assert "Stage 'other' didn't change, skipping" in log

    # Metrics and params of an experiment against the baseline.
    metrics = project.run("dvc", "metrics", "diff", "HEAD", "gain5-code3", "--md").stdout
    assert re.search(r"code_version\s*\|\s*1\s*\|\s*3\s*\|", metrics), metrics
    params = project.run("dvc", "params", "diff", "HEAD", "gain5-code3", "--md").stdout
    assert re.search(r"toy.gain\s*\|\s*2\s*\|\s*5\s*\|", params), params


def test_a_grid_of_queued_experiments_and_only_changed_labels_every_column(dvc_project):
    """docs/experiments.md "Grid experiments": Hydra-style -S sweeps queued, run on two workers, shown with
    --only-changed; every column holds its own key's value (the toy's metric keys are unique)."""
    project = make_toy_project(dvc_project, gain=2)
    project.run("dvc", "repro")
    project.commit("baseline")
    grid = project.run("dvc", "exp", "run", "--queue", "-S", "toy.gain=range(3,5,1)").stdout  # 3, 4
    assert grid.count("Queued experiment") == 2, grid
    project.run("dvc", "exp", "run", "--queue", "-S", "other.offset=choice(10)")
    try:
        with open(project.root.parent / "queue-start.log", "w") as log:
            subprocess.run([sys.executable, "-m", "dvc", "queue", "start", "-j", "2"], cwd=project.root,
                           env=project_env(), stdout=log, stderr=subprocess.STDOUT, check=True, timeout=120)
        status = wait_for_queue(project)
    finally:
        project.run("dvc", "queue", "stop", "--kill", check=False)
    assert len(re.findall(r"\bSuccess\b", status)) == 3, status

    table = project.run("dvc", "exp", "show", "--md", "--only-changed").stdout
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    # the changed metrics and params, each once, under its own name (no file prefix needed)
    assert set(header) >= {"Experiment", "gain", "total", "score", "toy.gain", "other.offset", "offset"}, header
    assert len(header) == len(set(header)), header
    exps = [row for name, row in ((r["Experiment"], r) for r in md_rows(table)) if re.search(r"[├└]", name)]
    assert len(exps) == 3
    for row in exps:
        gain, offset = float(row["toy.gain"]), float(row["other.offset"])
        assert float(row["gain"]) == gain and float(row["offset"]) == offset, row
        assert float(row["total"]) == gain * sum(range(6)) and float(row["score"]) == gain * 15 + offset, row
    assert sorted((r["toy.gain"], r["other.offset"]) for r in exps) == sorted(
        [("3", "1"), ("4", "1"), ("2", "10")])
