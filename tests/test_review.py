"""`make review`'s document, on two commits of a temporary clone running the toy pipeline."""

from __future__ import annotations

import re

from edgetune.report.review import markdown_table_or, spec_for_revision
from toy_pipeline import make_toy_project

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def table_row(markdown: str, *cells: str) -> bool:
    """Whether a markdown table row holds ``cells`` in order, as adjacent columns."""
    pattern = r"\|\s*" + r"\s*\|\s*".join(re.escape(c) for c in cells) + r"\s*\|"
    return re.search(pattern, markdown) is not None


def test_review_reports_params_metrics_and_both_sides_plots(dvc_project):
    project = make_toy_project(dvc_project, gain=2)
    project.run("dvc", "repro")
    project.commit("gain 2")
    project.set_params(toy={"gain": 3})
    project.run("dvc", "repro")
    project.commit("gain 3")

    proc = project.run("python", "tools/review.py", "--base", "HEAD~1")
    report = (project.root / "review" / "report.md").read_text()

    assert report.startswith("# Review: `HEAD~1`")
    assert table_row(report, "params.yaml", "toy.gain", "2", "3")
    assert table_row(report, "metrics/toy.json", "total", "30", "45", "15")
    assert table_row(report, "metrics/summary.json", "score", "31", "46", "15")
    assert "offset" not in report  # unchanged params and metrics are left out

    images = dict(re.findall(r"!\[plots/toy\.csv(?: at |, )([^\]]+)\]\(([^)]+)\)", report))
    assert set(images) == {"HEAD~1", "workspace", "both revisions"}, images
    contents = {}
    for side, rel in images.items():
        data = (project.root / "review" / rel).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000, (side, rel, len(data))
        contents[side] = data
    assert len(set(contents.values())) == 3, "each side is its own figure"
    # Side by side: both revisions' images sit in one table row, base first.
    row = next(line for line in report.splitlines() if images["HEAD~1"] in line)
    assert row.index(images["HEAD~1"]) < row.index(images["workspace"]) < row.index(images["both revisions"])
    assert "wrote" in proc.stderr


def test_review_rejects_an_unknown_base(dvc_project):
    proc = dvc_project.run("python", "tools/review.py", "--base", "no-such-branch", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("edgetune review: error: BASE='no-such-branch'")
    assert "Traceback" not in proc.stderr


def test_spec_for_revision_keeps_one_side_in_its_overlay_colour():
    spec = {
        "data": {"values": [{"x": 1, "rev": "HEAD~1"}, {"x": 2, "rev": "workspace"}, {"x": 3, "rev": "HEAD~1"}]},
        "encoding": {"color": {"field": "rev", "scale": {"domain": ["HEAD~1", "workspace"], "range": ["#a", "#b"]}}},
    }
    one = spec_for_revision(spec, "workspace")
    assert one["data"]["values"] == [{"x": 2, "rev": "workspace"}]
    assert one["encoding"]["color"]["scale"] == {"domain": ["workspace"], "range": ["#b"]}
    assert len(spec["data"]["values"]) == 3  # the overlay's spec is left whole


def test_an_empty_dvc_table_reads_as_nothing_changed():
    header_only = "| Path   | Param   | HEAD~1   | workspace   |\n|--------|---------|----------|-------------|\n"
    assert markdown_table_or(header_only, "No parameter changed.") == "No parameter changed."
    assert markdown_table_or("", "No metric changed.") == "No metric changed."
    row = header_only + "| params.yaml | toy.gain | 2 | 3 |\n"
    assert markdown_table_or(row, "No parameter changed.") == row.strip()
