"""`dvc exp run`s on a Dask cluster: each run in its own clone on a worker, shared through the remotes.

DVC's queue runs experiments on one machine only. Dask distributed schedules tasks on workers of
many machines, runs a task again elsewhere when its worker dies, and reports a task's exception to
the submitter; what it does not know is DVC. Each task here clones the git remote at the
submitted commit into the worker's directory, runs ``dvc exp run -n NAME -S …`` there (pulling
missing inputs from the DVC remote), and ``dvc exp push``es the experiment: its git ref to the git
remote, its outputs to the DVC remote. The submitter then ``dvc exp pull``s them, so they are read
exactly as the local queue's (:mod:`edgetune.seed_spread`). Dask is the scheduler; nothing here
polls a file or tracks a worker.

Each task is ``subprocess.run`` of the bash script below: a worker needs bash, git and dvc (the
project's venv first on its PATH), not the project's code, and the scheduler deserialises nothing
of ours. docs/cluster.md says how to start one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edgetune.errors import EdgetuneError

SCHEDULER_ENV = "EDGETUNE_DASK_SCHEDULER"  # the scheduler's address, e.g. tcp://10.0.0.5:8786

# $1 name, $2 commit, $3 git remote URL, $4 DVC remote name, $5 its URL, then `dvc exp run`'s -S … target.
# EDGETUNE_WORKER_DIR, in the worker's environment: where it keeps its clones and its DVC cache.
# Each run in a clone of its own, removed after; the DVC cache kept across the worker's runs; a rerun
# (its first worker died) pushes with --force, so an experiment is never on the remote twice.
WORKER_SCRIPT = r"""
set -uo pipefail
name=$1 commit=$2 git_remote=$3 remote_name=$4 remote_url=$5; shift 5
where="worker on $(hostname) (pid $$)"
command -v dvc >/dev/null || {
  echo "$where: no \`dvc\` on its PATH; start the worker from the project's venv (PATH=.venv/bin:\$PATH dask worker …, docs/cluster.md)" >&2
  exit 3; }
root="${EDGETUNE_WORKER_DIR:-${TMPDIR:-/tmp}}/edgetune"
mkdir -p "$root/runs"
clone=$(mktemp -d "$root/runs/$name-XXXXXXXX")
trap 'rm -rf "$clone" "$clone.log"' EXIT
step() { "$@" >"$clone.log" 2>&1 || { echo "$where: \`$1 $2 $3 …\` failed: $(tail -n 1 "$clone.log")" >&2; exit 4; }; }
step git clone -q --no-checkout "$git_remote" "$clone"
cd "$clone" || exit 4
step git checkout -q "$commit"
step dvc remote modify --local "$remote_name" url "$remote_url"
step dvc cache dir --local "$root/dvc-cache"
step dvc exp run --pull -n "$name" "$@"
step dvc exp push --force "$git_remote" "$name"
"""


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if proc.returncode:
        raise EdgetuneError(f"`git {' '.join(args)}` failed: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout.strip()


def _dvc(repo: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True)
    if proc.returncode:
        raise EdgetuneError(f"`dvc {' '.join(args)}` failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc.stdout.strip()


def remotes(repo: Path, git_remote: str) -> dict:
    """The URLs the workers clone from and push to: the git remote's, and the default DVC remote's
    (a relative local path made absolute). The commit must already be on the git remote."""
    git_url = _git(repo, "remote", "get-url", git_remote)
    name = _dvc(repo, "remote", "default")
    if not name:
        raise EdgetuneError("no default DVC remote: the workers push their outputs there (dvc remote default NAME)")
    url = _dvc(repo, "config", f"remote.{name}.url")
    if "://" not in url:
        url = str((repo / ".dvc" / url).resolve()) if not Path(url).expanduser().is_absolute() else str(Path(url).expanduser())
    return {"git_remote": git_url, "dvc_remote_name": name, "dvc_remote_url": url}


def check_pushed(repo: Path, git_remote: str, commit: str) -> None:
    _git(repo, "fetch", "-q", git_remote)
    if not _git(repo, "branch", "-r", "--contains", commit):
        raise EdgetuneError(f"commit {commit[:12]} is on no branch of the git remote '{git_remote}', which the "
                            f"workers clone: git push {git_remote} it first")


def worker_command(spec: dict) -> list[str]:
    return ["bash", "-c", WORKER_SCRIPT, "edgetune-run", spec["name"], spec["commit"], spec["git_remote"],
            spec["dvc_remote_name"], spec["dvc_remote_url"], *spec["args"]]


def run_experiments(address: str, specs: list[dict], connect_seconds: float = 10.0) -> None:
    """Submit one task per experiment to the scheduler at ``address``; wait for all; one line on a failure."""
    from distributed import Client, as_completed

    try:
        client = Client(address, timeout=f"{connect_seconds}s")
    except (OSError, TimeoutError):
        raise EdgetuneError(f"{SCHEDULER_ENV} / --cluster {address}: no Dask scheduler answered within "
                            f"{connect_seconds:g} s; start one (dask scheduler) or leave it unset to use this "
                            "machine's queue") from None
    with client:
        futures = {client.submit(subprocess.run, worker_command(spec), capture_output=True, text=True, pure=False,
                                 key=f"edgetune-exp-{spec['name']}-{spec['commit'][:12]}"): spec["name"]
                   for spec in specs}
        for future in as_completed(futures):
            try:
                done = future.result()
            except Exception as exc:  # Dask's own (KilledWorker: every worker it tried died), in one line
                raise EdgetuneError(f"experiment {futures[future]}: {' '.join(str(exc).split())}") from None
            if done.returncode:
                said = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
                raise EdgetuneError(f"experiment {futures[future]}: {said[0]}")


def pull(repo: Path, git_remote: str, names: list[str]) -> None:
    """The experiments' refs from the git remote and their outputs from the DVC remote."""
    _dvc(repo, "exp", "pull", "--force", git_remote, *names)
