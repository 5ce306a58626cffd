"""What a change did to the results, as one markdown document: ``review/report.md``.

A change to params or code comes with its effect: ``dvc params diff`` and ``dvc metrics diff``
against a base revision (markdown tables, as DVC prints them) and every plot of both sides drawn
as PNG side by side, plus both on one set of axes. The workspace is the "after" side, as in every
``dvc … diff``: run ``dvc repro`` (or check out the reproduced commit) first. This is the document
a CI job posts on a pull request (docs/review.md).

Plots are rendered from the very vega-lite specs ``dvc plots diff --json`` produces, so the PNGs
match the HTML pages; ``vl-convert-python`` renders them in-process without network or Node
(vega-cli's PNG output needs node-canvas, whose install fetches a prebuilt binary from outside the
package registries or compiles against cairo). Image plots (PNG/SVG files a stage writes) are
copied as DVC exports them.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from edgetune.atomic import write_bytes, write_text
from edgetune.errors import EdgetuneError

log = logging.getLogger(__name__)

WORKSPACE = "workspace"
# vega-lite version vl-convert compiles with: the newest 5.x it bundles (DVC writes v5 specs).
VL_VERSION = "5.21"
PNG_SCALE = 2


def run_dvc(*args: str, cwd: Path) -> str:
    """Run a DVC command with this interpreter's DVC; its stdout, or a one-line error."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise EdgetuneError(f"`dvc {' '.join(args)}` failed in {cwd}: {detail[-1] if detail else 'no output'}")
    return proc.stdout


def fetch_revision(commit: str, repo: Path) -> None:
    """Bring ``commit``'s cached outputs from the default remote into the cache, so that
    ``dvc plots diff`` finds both sides of the cached figures (``dvc fetch`` has no ``--rev``; its
    API does). No remote, or outputs never pushed: a warning, and those figures stay "(absent)"."""
    from dvc.repo import Repo

    try:
        with Repo(str(repo)) as dvc_repo:
            count = dvc_repo.fetch(revs=[commit], workspace=False)
        log.info("fetched %d file(s) of %s from the remote", count, commit[:8])
    except Exception as exc:  # NoRemoteError, DownloadError (some outputs never pushed), …
        log.warning("could not fetch %s's cached outputs (%s); its cached figures may be absent",
                    commit[:8], str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def resolve_base(base: str, repo: Path) -> str:
    """The commit ``base`` names, or an error telling what to pass instead."""
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], cwd=repo, capture_output=True, text=True
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise EdgetuneError(
            f"BASE={base!r} is not a commit of the git repository at {repo}; "
            "pass a branch, tag or commit, e.g. `make review BASE=HEAD~1` or `BASE=origin/main`"
        )
    return proc.stdout.strip()


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "plot"


def spec_for_revision(spec: dict, rev: str) -> dict:
    """The DVC vega-lite spec with only ``rev``'s data, in the colour the overlay gives it."""
    one = copy.deepcopy(spec)
    values = one.get("data", {}).get("values")
    if isinstance(values, list):
        one["data"]["values"] = [row for row in values if row.get("rev") == rev]
    color = one.get("encoding", {}).get("color")
    scale = color.get("scale") if isinstance(color, dict) else None
    if isinstance(scale, dict) and color.get("field") == "rev" and rev in scale.get("domain", []):
        i = scale["domain"].index(rev)
        scale["domain"] = [rev]
        if isinstance(scale.get("range"), list) and i < len(scale["range"]):
            scale["range"] = [scale["range"][i]]
    return one


def render_png(spec: dict) -> bytes:
    import vl_convert  # imported here: only the review renders PNGs

    return vl_convert.vegalite_to_png(spec, vl_version=VL_VERSION, scale=PNG_SCALE)


def md_image(path: Path, out_dir: Path, alt: str) -> str:
    return f"![{alt}]({path.relative_to(out_dir).as_posix()})"


def plot_section(plot_id: str, entries: list[dict], sides: list[str], out_dir: Path) -> list[str]:
    """Markdown for one plot: a row of images, one per side (+ the overlay for vega plots)."""
    images_dir = out_dir / "plots"
    name = slug(plot_id)
    cells: dict[str, str] = {}
    for entry in entries:
        if entry.get("type") == "vega":
            spec = entry["content"]
            for side in sides:
                if side in entry.get("revisions", []):
                    png = images_dir / f"{name}.{slug(side)}.png"
                    write_bytes(png, render_png(spec_for_revision(spec, side)))
                    cells[side] = md_image(png, out_dir, f"{plot_id} at {side}")
            if len(entry.get("revisions", [])) > 1:
                png = images_dir / f"{name}.both.png"
                write_bytes(png, render_png(spec))
                cells["both"] = md_image(png, out_dir, f"{plot_id}, both revisions")
        elif entry.get("type") == "image":
            for side in entry.get("revisions", []):
                if side in sides:
                    src = Path(entry["url"])
                    dest = images_dir / f"{name}.{slug(side)}{src.suffix}"
                    write_bytes(dest, src.read_bytes())
                    cells[side] = md_image(dest, out_dir, f"{plot_id} at {side}")
    columns = [*sides, *(["both"] if "both" in cells else [])]
    return [
        f"### `{plot_id}`",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        "| " + " | ".join(cells.get(c, "(absent)") for c in columns) + " |",
        "",
    ]


def markdown_table_or(text: str, empty: str) -> str:
    """DVC's markdown table, or ``empty`` when it has no data row (DVC prints a bare header then)."""
    text = text.strip()
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return text if len(rows) > 2 else empty


def build_review(base: str, repo: Path = Path("."), out_dir: Path = Path("review")) -> Path:
    """Write ``out_dir/report.md`` (+ ``out_dir/plots/*.png``) comparing ``base`` with the workspace."""
    repo = repo.resolve()
    out_dir = out_dir if out_dir.is_absolute() else repo / out_dir
    commit = resolve_base(base, repo)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True, text=True)
    log.info("%s (%s) → workspace", base, commit[:8])

    fetch_revision(commit, repo)
    params = run_dvc("params", "diff", base, "--md", cwd=repo)
    metrics = run_dvc("metrics", "diff", base, "--md", cwd=repo)
    with tempfile.TemporaryDirectory(prefix="edgetune-review-") as tmp:
        plots = json.loads(run_dvc("plots", "diff", base, "--json", "-o", tmp, cwd=repo) or "{}")
        shutil.rmtree(out_dir / "plots", ignore_errors=True)
        sides = [base, WORKSPACE]
        plot_lines: list[str] = []
        for plot_id, entries in sorted(plots.get("data", {}).items()):
            log.info("rendering %s", plot_id)
            plot_lines += plot_section(plot_id, entries, sides, out_dir)

    errors = plots.get("errors") or []
    workspace = f"workspace (HEAD {head.stdout.strip() or '?'}{', with uncommitted changes' if dirty.stdout.strip() else ''})"
    lines = [
        f"# Review: `{base}` ({commit[:8]}) → {workspace}",
        "",
        "## Params changed",
        "",
        markdown_table_or(params, "No parameter changed."),
        "",
        "## Metrics changed",
        "",
        markdown_table_or(metrics, "No metric changed."),
        "",
        "## Plots",
        "",
        *(plot_lines or ["No plots in dvc.yaml at either revision."]),
    ]
    if errors:
        lines += ["", "DVC could not load some plot data:", "", *[f"- `{json.dumps(e, sort_keys=True)}`" for e in errors]]
    report = out_dir / "report.md"
    write_text(report, "\n".join(lines).rstrip() + "\n")
    log.info("wrote %s", report)
    return report
