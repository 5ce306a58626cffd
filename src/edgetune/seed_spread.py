"""A stage's figures over several seeds, through DVC experiments: the spread one run hides.

The extractor's accuracy moves by several points with its seed alone (docs/levers.md, fourth
round), so a lever measured on one seed can look like a gain that a rerun flips. This runs one
``dvc exp run --queue -n NAME-sK -S <seed param>=K [-S …] <target>`` per seed, lets DVC's queue
run them ``jobs`` at a time, each in its own copy of the repository (the workspace is left
alone), reads each experiment's metrics from its git ref, and prints mean ± 95 % interval per
metric. Two arms run with the same seeds compare seed by seed with the rule every verdict of
this project uses (:mod:`edgetune.stats`). DVC has the queue and the refs; what it lacks is the
per-seed summary and the paired verdict, written here.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from edgetune import stats
from edgetune.errors import EdgetuneError
from edgetune.params import Params, read_yaml_as_dvc_does

EXTRACTOR_KEYS = ("float_val_accuracy", "quantized_val_accuracy", "akida_val_accuracy")
_BUSY = {"Queued", "Running"}


@dataclass(frozen=True)
class Arm:
    """One setting run over seeds: experiment ``{name}-s{seed}`` for each seed."""

    name: str
    seeds: tuple[int, ...]
    sets: tuple[str, ...] = ()  # extra ``-S`` overrides (empty: the committed params)

    def experiment(self, seed: int) -> str:
        return f"{self.name}-s{seed}"


def _run(cwd: Path, *args: str) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise EdgetuneError(f"`{' '.join(args)}` failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc.stdout


def run_args(arm: Arm, seed: int, target: str, seed_param: str) -> list[str]:
    """``-S`` overrides and the target of one run (after ``dvc exp run [--queue] -n NAME``)."""
    return [*(a for s in (f"{seed_param}={seed}", *arm.sets) for a in ("-S", s)), target]


def queue(repo: Path, arm: Arm, target: str, seed_param: str) -> None:
    """Queue one experiment per seed, up to ``target``."""
    for seed in arm.seeds:
        _run(repo, "dvc", "exp", "run", "--queue", "-n", arm.experiment(seed), *run_args(arm, seed, target, seed_param))


def busy(repo: Path, names: list[str]) -> list[str]:
    """The named experiments still Queued or Running. A name can also be listed for an earlier
    commit's run (ended long ago): only a line that is not over counts."""
    out = set()
    for line in _run(repo, "dvc", "queue", "status").splitlines():
        match = re.match(r"^\S+\s+(\S+)\s+.*\s(\w+)\s*$", line)
        if match and match.group(1) in names and match.group(2) in _BUSY:
            out.add(match.group(1))
    return sorted(out)


def run_queue(repo: Path, names: list[str], jobs: int, poll_seconds: float = 5.0,
              timeout_seconds: float = 12 * 3600) -> None:
    """Start the queue's workers and wait until none of the named experiments is queued or running.

    A failed one has no ref afterwards, and :func:`read_metrics` says so with its name.
    """
    deadline = time.monotonic() + timeout_seconds
    # The detached workers inherit the command's output: a pipe would stay open until they exit.
    with tempfile.TemporaryFile("w+") as log:
        if subprocess.run(["dvc", "queue", "start", "-j", str(jobs)], cwd=repo, stdout=log, stderr=subprocess.STDOUT).returncode:
            log.seek(0)
            raise EdgetuneError(f"`dvc queue start` failed: {log.read().strip().splitlines()[-1:]}")
    while running := busy(repo, names):
        if time.monotonic() > deadline:
            raise EdgetuneError(f"experiments still running after {timeout_seconds:.0f} s: {running}; see `dvc queue status`")
        time.sleep(poll_seconds)


def commit_of(repo: Path, rev: str = "HEAD") -> str:
    """The full hash of ``rev``: experiments hang under the commit they were queued on."""
    return _run(repo, "git", "rev-parse", rev).strip()


def _show(repo: Path, name: str, commit: str, path: str) -> str:
    """A file of experiment ``name`` as its ref under ``commit`` holds it."""
    ref = f"refs/exps/{commit[:2]}/{commit[2:]}/{name}"
    try:
        return _run(repo, "git", "show", f"{ref}:{path}")
    except EdgetuneError:
        raise EdgetuneError(f"no experiment {name!r} on commit {commit} ({ref}): it failed "
                            f"(`dvc queue logs {name}`), was not run, or ran on another commit (--baseline)") from None


def read_metrics(repo: Path, names: list[str], metrics_path: str, commit: str) -> dict[str, dict]:
    """Each experiment's metrics file, read from its ref under ``commit`` (a full hash, :func:`commit_of`)."""
    return {name: json.loads(_show(repo, name, commit, metrics_path)) for name in names}


def section_params(text: str, section: str) -> dict:
    """A params.yaml section as the stages see it (validated, defaults filled) where the schema knows it."""
    raw = (read_yaml_as_dvc_does(text) or {}).get(section) or {}
    schema = Params.model_fields.get(section)
    return schema.annotation.model_validate(raw).model_dump() if schema else raw


def record(repo: Path, arm: Arm, values: dict[str, list[float]], commit: str, target: str, seed_param: str) -> dict:
    """What the arm's runs measured and on what: the params section of ``seed_param`` (its seed
    aside) and the target stage's data deps — the same for every seed, as every seed runs the
    same overrides on the same commit — and each run's values and output md5s (from the
    experiment's ``dvc.lock``). The report reads it to say how far one draw goes, and checks that
    it was measured on the data and params of the extractor it reports on."""
    section, seed_key = seed_param.split(".", 1)
    locks = [yaml.safe_load(_show(repo, arm.experiment(s), commit, "dvc.lock"))["stages"][target] for s in arm.seeds]
    runs = [{"seed": seed, **{k: v[i] for k, v in values.items()},
             "outs": {o["path"]: o.get("md5") for o in locks[i].get("outs", [])}} for i, seed in enumerate(arm.seeds)]
    params = section_params(_show(repo, arm.experiment(arm.seeds[0]), commit, "params.yaml"), section)
    params.pop(seed_key, None)
    deps = {d["path"]: d.get("md5") for d in locks[0].get("deps", []) if not d["path"].endswith(".py")}
    summary = {key: {**stats.estimate(v).as_dict(4), "min": min(v), "max": max(v)} for key, v in values.items()}
    return {"arm": arm.name, "sets": list(arm.sets), "commit": commit, "target": target, "seed_param": seed_param,
            "params": params, "deps": deps, "runs": runs, "summary": summary}


def per_seed(arm: Arm, metrics: dict[str, dict], keys: tuple[str, ...]) -> dict[str, list[float]]:
    """Key → the arm's value for each of its seeds, in seed order."""
    return {k: [float(metrics[arm.experiment(s)][k]) for s in arm.seeds] for k in keys}


def markdown(arms: list[Arm], values: dict[str, dict[str, list[float]]], scale: float = 1.0) -> str:
    """One row per arm and seed, then each arm's mean ± 95 % interval, and the paired gaps to the first arm."""
    keys = list(next(iter(values.values())))
    lines = ["| arm | seed | " + " | ".join(keys) + " |", "|---|---:|" + "---:|" * len(keys)]
    for arm in arms:
        for i, seed in enumerate(arm.seeds):
            lines.append(f"| {arm.name} | {seed} | " + " | ".join(f"{values[arm.name][k][i] * scale:.1f}" for k in keys) + " |")
    for arm in arms:
        cells = [stats.estimate(values[arm.name][k]) for k in keys]
        lines.append(f"| **{arm.name}** | mean ± 95 % | " + " | ".join(_cell(e, scale) for e in cells) + " |")
    base = arms[0]
    for arm in arms[1:]:  # every arm runs the same seeds, so seed i of one pairs with seed i of the other
        gaps = [stats.paired_gap(values[arm.name][k], values[base.name][k]) for k in keys]
        lines.append(f"| {arm.name} − {base.name} | paired | " + " | ".join(_gap_cell(g, scale) for g in gaps) + " |")
    return "\n".join(lines)


def _cell(e: stats.Estimate, scale: float) -> str:
    return f"{e.mean * scale:.1f} ± {e.half_width * scale:.1f}"


def _gap_cell(gap: stats.Estimate, scale: float) -> str:
    """The gap and its verdict: above or below only when the whole interval is on one side."""
    flipped = stats.Estimate(-gap.mean, gap.half_width, gap.n)
    verdict = "above" if stats.significantly_below(gap) else "below" if stats.significantly_below(flipped) else "within noise"
    return f"{gap.mean * scale:+.1f} ± {gap.half_width * scale:.1f} ({verdict})"
