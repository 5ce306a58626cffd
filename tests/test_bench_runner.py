"""`make bench`'s runner on the toy pipeline: it produces the results table (no timing asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO, project_env
from toy_pipeline import make_toy_project


def test_run_all_writes_pipeline_and_script_results(dvc_project, tmp_path):
    project = make_toy_project(dvc_project, gain=2)
    bench_dir = tmp_path / "bench"
    bench_dir.mkdir()
    (bench_dir / "bench_side_by_side.py").write_text("print('numpy / engine time ratio: 12.5')\n")
    (bench_dir / "helper.py").write_text("raise SystemExit('not a benchmark: must not run')\n")
    out = tmp_path / "results.md"

    proc = subprocess.run(
        [
            sys.executable, str(REPO / "bench" / "run_all.py"),
            "--repo", str(project.root), "--out", str(out), "--work", str(tmp_path / "work"),
            "--bench-dir", str(bench_dir), "--change", "toy.gain=7", "--noop-runs", "1",
        ],
        env=project_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = out.read_text()

    # Fresh clone, then the forced retrain: every stage, in dependency order, with a time and a peak RSS.
    stage_rows = re.findall(r"^\| (toy|other|summary) \| [\d.]+ s \| ([\d.]+) s \| [\d.]+ \| (\d+) MB \| 0 \|$",
                            results, re.M)
    assert [name for name, _, _ in stage_rows][-1] == "summary" and {n for n, _, _ in stage_rows} == {"toy", "other", "summary"}
    assert all(float(secs) > 0 and int(rss) > 10 for _, secs, rss in stage_rows), stage_rows
    # The summary table, with ratios to the targets.
    assert re.search(r"^\| fresh clone `dvc repro` \(sum of the stages\) \| [\d.]+ s \| 12 min \| [\d.]+ \| ok \|$",
                     results, re.M)
    assert re.search(r"^\| full retrain `dvc repro --force` \(sum of the stages\) \| [\d.]+ s \| 20 min \| [\d.]+ \| ok \|$",
                     results, re.M)
    assert re.search(r"Load average \(1 min\) at the start and the end of each pass: fresh clone [\d.]+ → [\d.]+; "
                     r"full retrain [\d.]+ → [\d.]+\.", results)
    assert re.search(r"^\| no-op `dvc repro` \(median of 1\) \| [\d.]+ s \| 3 s \| [\d.]+ \| ", results, re.M)
    assert re.search(r"^\| largest peak RSS \(stage `\w+`\) \| \d+ MB \| 3 GB \| [\d.]+ \| ok \|$", results, re.M)
    assert "No stage ran." in results
    # Changing toy.gain reruns toy and what follows it, not `other`.
    assert "- ran: summary, toy (exit 0" in results
    assert "- expected (stages reading it + downstream): summary, toy" in results
    assert re.search(r"^\| rerun after `toy.gain=7` \|.*\| ok \|$", results, re.M)
    # Benchmark scripts: each bench_*.py, its output verbatim; nothing else in the folder.
    assert "### `bench_side_by_side.py` (exit 0" in results
    assert "numpy / engine time ratio: 12.5" in results
    assert "helper.py" not in results


def test_run_all_reports_a_change_no_stage_reads(dvc_project, tmp_path):
    project = make_toy_project(dvc_project)
    project.set_params(unused={"knob": 1})
    project.commit("a param no stage reads")
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [
            sys.executable, str(REPO / "bench" / "run_all.py"), "--repo", str(project.root), "--out", str(out),
            "--work", str(tmp_path / "work"), "--skip-scripts", "--change", "unused.knob=2", "--noop-runs", "1",
        ],
        env=project_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = out.read_text()
    assert "no stage reads `unused.knob`" in results
    assert "- ran: nothing" in results and "- expected (stages reading it + downstream): nothing" in results


def test_run_all_refuses_a_change_to_a_missing_param_before_reproducing(dvc_project, tmp_path):
    project = make_toy_project(dvc_project)
    proc = subprocess.run(
        [
            sys.executable, str(REPO / "bench" / "run_all.py"), "--repo", str(project.root),
            "--out", str(tmp_path / "results.md"), "--work", str(tmp_path / "work"), "--skip-scripts",
            "--change", "toy.no_such_key=1",
        ],
        env=project_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip() == "bench: --change toy.no_such_key: params.yaml has no key 'toy.no_such_key'"
    assert "cold" not in proc.stdout and not (tmp_path / "work" / "clone" / "dvc.lock").exists()
