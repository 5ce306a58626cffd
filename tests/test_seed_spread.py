"""tools/seed_spread.py for real: queued DVC experiments of the toy pipeline, read back from their refs."""

import hashlib
import json
import re

from edgetune import seed_spread, stats
from toy_pipeline import make_toy_project, set_code_version


def test_two_arms_over_seeds_run_as_experiments_and_compare_seed_by_seed(dvc_project):
    # toy.json's total = gain × (0 + 1 + … + points − 1): gain plays the seed, points the lever
    project = make_toy_project(dvc_project, gain=2, points=4)
    project.run("dvc", "repro")
    project.commit("baseline")
    try:
        proc = project.run("python", "tools/seed_spread.py", "--target", "toy", "--seed-param", "toy.gain",
                           "--seeds", "1", "4", "--metrics", "metrics/toy.json", "--keys", "total",
                           "--arm", "four", "--arm", "five toy.points=5", "--poll-seconds", "1", timeout=600)
    finally:
        project.run("dvc", "queue", "stop", "--kill", check=False)
    table = proc.stdout
    # each seed's own run: four points → 6 × gain, five points → 10 × gain
    for gain in (1, 4):
        assert re.search(rf"\| four \| {gain} \| {6 * gain:.1f} \|", table), table
        assert re.search(rf"\| five \| {gain} \| {10 * gain:.1f} \|", table), table
    mean = stats.estimate([6, 24])
    assert f"| **four** | mean ± 95 % | {mean.mean:.1f} ± {mean.half_width:.1f} |" in table, table
    gap = stats.estimate([4, 16])  # five − four, seed by seed
    assert f"| five − four | paired | +{gap.mean:.1f} ± {gap.half_width:.1f} (within noise) |" in table, table
    # the experiments stay, named per arm and seed, and the workspace keeps the committed params
    assert "gain: 2" in (project.root / "params.yaml").read_text()
    again = project.run("python", "tools/seed_spread.py", "--collect-only", "--target", "toy", "--seed-param",
                        "toy.gain", "--seeds", "1", "4", "--metrics", "metrics/toy.json", "--keys", "total",
                        "--arm", "four", "--arm", "five toy.points=5")
    assert again.stdout == table
    # --record: the first arm's runs, what they ran on, and their summary, for the report to read
    project.run("python", "tools/seed_spread.py", "--collect-only", "--target", "toy", "--seed-param", "toy.gain",
                "--seeds", "1", "4", "--metrics", "metrics/toy.json", "--keys", "total", "--arm", "four",
                "--record", "results/spread.json")
    doc = json.loads((project.root / "results/spread.json").read_text())
    assert (doc["arm"], doc["sets"], doc["target"], doc["seed_param"]) == ("four", [], "toy", "toy.gain")
    assert doc["commit"] == project.run("git", "rev-parse", "HEAD").stdout.strip()
    assert doc["params"] == {"points": 4} and doc["deps"] == {}  # the seed aside; the toy stage reads only code
    assert [(r["seed"], r["total"]) for r in doc["runs"]] == [(1, 6.0), (4, 24.0)]
    toy_json = hashlib.md5(b'{"code_version": 1, "gain": 4, "total": 24}\n').hexdigest()  # what the toy stage wrote
    assert doc["runs"][1]["outs"]["metrics/toy.json"] == toy_json
    assert doc["summary"] == {"total": {**stats.estimate([6, 24]).as_dict(4), "min": 6.0, "max": 24.0}}

    # On the next commit the same names run again: the earlier commit's ended runs of those names
    # in `dvc queue status` must not end the wait, and the table is read under the new commit.
    set_code_version(project, 2)
    project.commit("code 2")
    try:
        proc = project.run("python", "tools/seed_spread.py", "--target", "toy", "--seed-param", "toy.gain",
                           "--seeds", "1", "--metrics", "metrics/toy.json", "--keys", "total", "code_version",
                           "--arm", "four", "--poll-seconds", "1", timeout=600)
    finally:
        project.run("dvc", "queue", "stop", "--kill", check=False)
    assert "| four | 1 | 6.0 | 2.0 |" in proc.stdout, proc.stdout


def test_a_missing_experiment_is_one_line_naming_it(dvc_project):
    project = make_toy_project(dvc_project)
    proc = project.run("python", "tools/seed_spread.py", "--collect-only", "--arm", "base", "--seeds", "7", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.fullmatch(r"edgetune seed-spread: error: no experiment 'base-s7' on commit [0-9a-f]{40} .*not run.*--baseline\)\n",
                        proc.stderr), proc.stderr


def test_a_gap_whose_interval_excludes_zero_is_called_above():
    arms = [seed_spread.Arm("a", (0, 1, 2)), seed_spread.Arm("b", (0, 1, 2))]
    values = {"a": {"x": [0.70, 0.72, 0.74]}, "b": {"x": [0.75, 0.765, 0.79]}}
    assert "| b − a | paired | +4.8 ± 0.7 (above) |" in seed_spread.markdown(arms, values, 100.0)  # gaps 5, 4.5, 5
    assert "(below)" in seed_spread.markdown(arms[::-1], values, 100.0)
