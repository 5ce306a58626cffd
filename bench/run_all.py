"""Run every benchmark and write ``bench/results.md`` (``make bench``).

1. Each ``bench/bench_*.py`` script, its output kept verbatim (they print their own ratios).
2. The pipeline's own figures, on a fresh ``git clone`` of the committed HEAD, so the
   DVC cache is empty and nothing of this checkout's runs is reused:
   - what a newcomer's ``make repro`` does: every stage of ``dvc.yaml`` in dependency order, one
     ``dvc repro --single-item STAGE`` each (the committed extractor is reused, its stage skipped);
   - a full retrain: the same, each ``--force``d, so each gets its own wall time and peak RSS;
   - the machine's load average at the start and the end of both passes;
   - no-op ``dvc repro`` (median of a few runs; nothing may run);
   - rerun after changing one param (default ``sweep.repetitions=2``): its time, which stages
     ran, and whether that is exactly the stages that read the param plus those downstream.
   Peak RSS is ``ru_maxrss`` from ``os.wait4`` on the ``dvc`` process: the largest single process
   of the stage's tree (DVC itself, the stage's python, or one of its workers) — stdlib, no
   /usr/bin/time output to parse.

Targets: fresh clone ≤ 12 min and full retrain ≤ 20 min on 2 cores, no-op ≤ 3 s, every stage ≤ 3 GB peak RSS; the hardware
stage's mapping ≤ 10 % of the table's stages (its items + the aggregator).
Works with whatever stages ``dvc.yaml`` has; a change whose param no stage reads is reported
as such.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
TARGET_FRESH_S = 12 * 60
TARGET_COLD_S = 20 * 60
TARGET_NOOP_S = 3.0
TARGET_RSS_MB = 3072.0
TARGET_MAPPING_SHARE = 0.10  # mapping adds at most 10 % to the table's cost


@dataclass
class Run:
    """One measured command."""

    cmd: list[str]
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str

    @property
    def ran_stages(self) -> list[str]:
        return re.findall(r"Running stage '([^']+)'", self.output)


@dataclass
class Results:
    scripts: list[tuple[str, Run]] = field(default_factory=list)
    commit: str = ""
    fresh: list[tuple[str, Run]] = field(default_factory=list)
    cold: list[tuple[str, Run]] = field(default_factory=list)
    load: dict[str, tuple[float, float]] = field(default_factory=dict)  # pass → 1-min load average at start, end
    noop: list[Run] = field(default_factory=list)
    change: str = ""
    change_run: Run | None = None
    change_expected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def bench_env() -> dict[str, str]:
    """Stages call plain ``python``: this interpreter's venv first on PATH; TensorFlow quiet."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.pop("PYTHONPATH", None)
    return env


def measure(cmd: list[str], cwd: Path) -> Run:
    """Run ``cmd``; wall time and the peak RSS of its process tree (``os.wait4``'s ``ru_maxrss``)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=bench_env(), stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen
        out.seek(0)
        output = out.read()
    return Run(cmd, seconds, usage.ru_maxrss / 1024, proc.returncode, output)


def dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def run_scripts(bench_dir: Path, results: Results) -> None:
    for script in sorted(bench_dir.glob("bench_*.py")):
        print(f"bench: {script.name} …", flush=True)
        results.scripts.append((script.name, measure([sys.executable, str(script)], REPO)))


def stage_order(clone: Path) -> list[tuple[str, list[str], list[str]]]:
    """(stage, params.yaml keys it reads, stages downstream of it), in execution order."""
    import networkx as nx
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    # Addresses ("sweep@six", "sub/dvc.yaml:x") are relative to the working directory.
    with contextlib.chdir(clone), Repo(".") as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        order = []
        for stage in nx.topological_sort(graph.reverse()):
            keys = [
                key if key else ""
                for dep in stage.deps
                if isinstance(dep, ParamsDependency) and Path(dep.def_path).name == "params.yaml"
                for key in (dep.params or [""])  # no keys listed: the whole file
            ]
            order.append((stage.addressing, keys, sorted(s.addressing for s in nx.ancestors(graph, stage))))
    return order


def reads_param(keys: list[str], dotted: str) -> bool:
    """Whether a stage tracking params ``keys`` depends on ``dotted`` ("" = the whole file)."""
    return any(k == "" or k == dotted or dotted.startswith(k + ".") or k.startswith(dotted + ".") for k in keys)


def param_holder(params: dict, dotted: str) -> dict:
    """The mapping that holds ``dotted``'s last key; exits with a clear line if params.yaml lacks it."""
    *path, last = dotted.split(".")
    node = params
    for part in path:
        if not isinstance(node.get(part), dict):
            raise SystemExit(f"bench: --change {dotted}: params.yaml has no section {part!r}")
        node = node[part]
    if last not in node:
        raise SystemExit(f"bench: --change {dotted}: params.yaml has no key {dotted!r}")
    return node


def set_param(params_file: Path, dotted: str, raw_value: str) -> None:
    """Set ``section.key`` (value parsed as YAML, like ``dvc exp run -S``); lists stay block-style."""
    params = yaml.safe_load(params_file.read_text()) or {}
    param_holder(params, dotted)[dotted.split(".")[-1]] = yaml.safe_load(raw_value)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False, default_flow_style=False))


def run_pipeline(repo: Path, work: Path, change: str, noop_runs: int, results: Results) -> None:
    clone = work / "clone"
    shutil.rmtree(clone, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    if dirty.strip():
        results.notes.append("the checkout had uncommitted changes: the benchmarks measure its committed HEAD")
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    results.commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()

    dotted, _, value = change.partition("=")
    param_holder(yaml.safe_load((clone / "params.yaml").read_text()) or {}, dotted)  # fail before the long part
    order = stage_order(clone)
    if not order:
        results.notes.append("dvc.yaml has no stages: nothing to reproduce")
    start_load = os.getloadavg()[0]
    for stage, _, _ in order:
        print(f"bench: fresh clone {stage} …", flush=True)
        run = measure(dvc("repro", "--single-item", stage), clone)
        results.fresh.append((stage, run))
        if run.returncode != 0:
            results.notes.append(f"stage {stage} failed in the fresh clone (exit {run.returncode})")
            return
    results.load["fresh clone"] = (start_load, os.getloadavg()[0])
    start_load = os.getloadavg()[0]
    for stage, _, _ in order:
        print(f"bench: cold {stage} …", flush=True)
        # --force: the clone's committed dvc.lock matches outputs that reproduce byte for byte, so
        # without it DVC would (rightly) skip every stage after the first ones and time nothing.
        run = measure(dvc("repro", "--single-item", "--force", stage), clone)
        if run.returncode == 0 and stage not in run.ran_stages:
            results.notes.append(f"stage {stage} did not run in the cold reproduction")
        results.cold.append((stage, run))
        if run.returncode != 0:
            results.notes.append(f"stage {stage} failed (exit {run.returncode}); later figures are not meaningful")
            return
    results.load["full retrain"] = (start_load, os.getloadavg()[0])

    for i in range(noop_runs):
        print(f"bench: no-op dvc repro {i + 1}/{noop_runs} …", flush=True)
        results.noop.append(measure(dvc("repro"), clone))

    results.change = change
    results.change_expected = sorted(
        {name for name, keys, _ in order if reads_param(keys, dotted)}
        | {down for name, keys, downstream in order if reads_param(keys, dotted) for down in downstream}
    )
    if not results.change_expected:
        results.notes.append(f"no stage reads `{dotted}`: the rerun measures a pipeline with nothing to do")
    set_param(clone / "params.yaml", dotted, value)
    print(f"bench: rerun after {change} …", flush=True)
    results.change_run = measure(dvc("repro"), clone)


def fmt_s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds:.1f} s ({seconds / 60:.1f} min)"


def ratio_row(measure_name: str, value: float, shown: str, target: float, target_shown: str) -> str:
    ratio = value / target
    verdict = "ok" if ratio <= 1 else "**over target**"
    return f"| {measure_name} | {shown} | {target_shown} | {ratio:.2f} | {verdict} |"


def mapping_row(cold: list[tuple[str, Run]]) -> str | None:
    """The hardware stage's time against the table's (its items + the aggregator): what mapping adds."""
    times = dict((stage, run.seconds) for stage, run in cold)
    table_s = sum(s for stage, s in times.items() if stage == "table" or stage.startswith("table-train@"))
    if "hardware" not in times or not table_s:
        return None
    share = times["hardware"] / table_s
    return ratio_row("mapping: stage `hardware` / the table's stages", share,
                     f"{times['hardware']:.1f} s / {table_s:.1f} s = {100 * share:.1f} %", TARGET_MAPPING_SHARE, "10 %")


def render(results: Results, args: argparse.Namespace) -> str:
    now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        "# Benchmarks",
        "",
        f"Measured {now} on {os.cpu_count()} cores ({platform.machine()}, Python {platform.python_version()}), "
        f"by `python bench/run_all.py` (`make bench`). Other load on the machine slows every figure alike; "
        "compare ratios, not seconds, across machines.",
        "",
    ]
    if results.commit or results.notes:
        lines += ["## Pipeline", "", f"A fresh `git clone` of commit `{results.commit}` (empty DVC cache).", ""]
        failed = any(run.returncode for _, run in results.cold)
        if results.cold and not failed:
            cold_s = sum(run.seconds for _, run in results.cold)
            peak_stage, peak_run = max(results.cold, key=lambda item: item[1].peak_rss_mb)
            fresh_s = sum(run.seconds for _, run in results.fresh)
            lines += ["| measure | value | target | value / target | verdict |", "|---|---|---|---|---|"]
            lines.append(ratio_row("fresh clone `dvc repro` (sum of the stages)", fresh_s, fmt_s(fresh_s),
                                   TARGET_FRESH_S, "12 min"))
            lines.append(ratio_row("full retrain `dvc repro --force` (sum of the stages)", cold_s, fmt_s(cold_s),
                                   TARGET_COLD_S, "20 min"))
            if results.noop:
                noop_s = statistics.median(run.seconds for run in results.noop)
                lines.append(
                    ratio_row(f"no-op `dvc repro` (median of {len(results.noop)})", noop_s, fmt_s(noop_s), TARGET_NOOP_S, "3 s")
                )
            lines.append(
                ratio_row(
                    f"largest peak RSS (stage `{peak_stage}`)",
                    peak_run.peak_rss_mb,
                    f"{peak_run.peak_rss_mb:.0f} MB",
                    TARGET_RSS_MB,
                    "3 GB",
                )
            )
            mapping = mapping_row(results.cold)
            if mapping:
                lines.append(mapping)
            if results.change_run is not None:
                ran = sorted(set(results.change_run.ran_stages))
                as_expected = ran == results.change_expected
                lines.append(
                    f"| rerun after `{results.change}` | {fmt_s(results.change_run.seconds)} "
                    f"({results.change_run.seconds / cold_s:.2f} of cold) | only the stages that read it and those "
                    f"downstream | — | {'ok' if as_expected else '**other stages ran**'} |"
                )
            lines.append("")
        if results.cold:
            fresh = dict(results.fresh)
            load = "; ".join(f"{name} {a:.2f} → {b:.2f}" for name, (a, b) in results.load.items())
            lines += [
                "### Fresh clone and full retrain, stage by stage",
                "",
                "Fresh clone: `dvc repro --single-item STAGE` in dependency order (a skipped stage reuses its "
                "committed output); full retrain: the same with `--force`. Load average (1 min) at the start and "
                f"the end of each pass: {load}. Peak RSS is the retrain's, of the largest process"
                + (
                    f" (DVC's own process, {max(run.peak_rss_mb for run in results.noop):.0f} MB in the no-op runs, "
                    "is the floor)."
                    if results.noop
                    else "."
                ),
                "",
                "| stage | fresh clone | full retrain | share of retrain | peak RSS | exit |",
                "|---|---|---|---|---|---|",
            ]
            total = sum(run.seconds for _, run in results.cold) or 1.0
            for stage, run in results.cold:
                mine = fresh.get(stage)
                shown = "—" if mine is None else fmt_s(mine.seconds) + ("" if stage in mine.ran_stages else " (reused)")
                lines.append(f"| {stage} | {shown} | {fmt_s(run.seconds)} | {run.seconds / total:.2f} | "
                             f"{run.peak_rss_mb:.0f} MB | {run.returncode} |")
            lines.append("")
        if results.noop:
            ran = sorted({s for run in results.noop for s in run.ran_stages})
            lines += [
                "### No-op reproduction",
                "",
                "Times: " + ", ".join(fmt_s(run.seconds) for run in results.noop)
                + (f". **Stages ran although nothing changed:** {', '.join(ran)}." if ran else ". No stage ran."),
                "",
            ]
        if results.change_run is not None:
            ran = sorted(set(results.change_run.ran_stages))
            lines += [
                f"### Rerun after `{results.change}`",
                "",
                f"- ran: {', '.join(ran) or 'nothing'} (exit {results.change_run.returncode}, "
                f"{fmt_s(results.change_run.seconds)}, peak RSS {results.change_run.peak_rss_mb:.0f} MB)",
                f"- expected (stages reading it + downstream): {', '.join(results.change_expected) or 'nothing'}",
                "",
            ]
        if results.notes:
            lines += ["Notes:", "", *[f"- {note}" for note in results.notes], ""]
        for stage, run in results.cold:
            if run.returncode:
                lines += [f"Output of the failed stage `{stage}` (last lines):", "", "```", *run.output.splitlines()[-30:], "```", ""]
    lines += ["## Benchmark scripts", ""]
    if not results.scripts:
        lines += [f"No `bench_*.py` in `{args.bench_dir}`.", ""]
    for name, run in results.scripts:
        lines += [
            f"### `{name}` (exit {run.returncode}, {fmt_s(run.seconds)}, peak RSS {run.peak_rss_mb:.0f} MB)",
            "",
            "```",
            run.output.rstrip(),
            "```",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="git checkout whose HEAD is benchmarked (default: this one)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results.md", help="results file (default: bench/results.md)")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "out", help="scratch folder for the clone (default: bench/out)")
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR, help="folder of bench_*.py scripts (default: bench/)")
    parser.add_argument("--change", default="sweep.repetitions=2", help="param changed for the rerun (default: sweep.repetitions=2)")
    parser.add_argument("--noop-runs", type=int, default=3, help="no-op `dvc repro` runs, median reported (default: 3)")
    parser.add_argument("--skip-pipeline", action="store_true", help="only run the bench_*.py scripts")
    parser.add_argument("--skip-scripts", action="store_true", help="only run the pipeline benchmarks")
    args = parser.parse_args(argv)
    if "=" not in args.change:
        parser.error("--change takes section.key=value, e.g. sweep.repetitions=2")

    results = Results()
    if not args.skip_scripts:
        run_scripts(args.bench_dir, results)
    if not args.skip_pipeline:
        run_pipeline(args.repo.resolve(), args.work.resolve(), args.change, args.noop_runs, results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(render(results, args))
    tmp.replace(args.out)  # atomic, like every output of the project
    print(f"bench: wrote {args.out}")
    failed = [name for name, run in results.scripts if run.returncode] + [s for s, run in results.cold if run.returncode]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
