"""The plots HTML renders offline: pinned vega bundles inlined, checked in headless Chromium."""

from __future__ import annotations

import configparser
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgetune.report import offline_plots
from edgetune.errors import EdgetuneError
from conftest import REPO
from toy_pipeline import make_toy_project

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No name resolves: a page that needs a CDN stays blank here even on a machine with internet.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=15000",
]


def chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Debian's chromium is not installed: `make test` installs it (APT_PACKAGES in the Makefile)"
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    profile.mkdir()
    return subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_template_inlines_the_pinned_bundles():
    html = offline_plots.TEMPLATE.read_text(encoding="utf-8")
    scripts = offline_plots.inlined_scripts(html)
    pinned = offline_plots.pinned_versions()
    assert [s["package"] for s in scripts] == ["vega", "vega-lite", "vega-embed"]
    assert {s["package"]: s["version"] for s in scripts} == pinned
    for script in scripts:
        assert len(script["code"]) > 50_000, script["package"]
        assert hashlib.sha256(script["code"].encode("utf-8")).hexdigest() == script["sha256"], script["package"]
    lock = json.loads((offline_plots.ASSETS / "package-lock.json").read_text())
    assert {name: lock["packages"][f"node_modules/{name}"]["version"] for name in pinned} == pinned
    assert offline_plots.network_scripts(html) == []
    assert "{scripts}" not in html, "DVC would insert its CDN <script> tags"
    assert html.count("{plot_divs}") == 1
    licences = offline_plots.LICENSES.read_text(encoding="utf-8")
    for name, version in pinned.items():
        assert f"\n{name} {version} (BSD-3-Clause)" in licences


def test_project_config_names_the_template():
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    # DVC resolves a relative plots.html_template against the .dvc folder.
    assert (REPO / ".dvc" / config["plots"]["html_template"]).resolve() == offline_plots.TEMPLATE


def test_network_scripts_finds_cdn_tags():
    page = '<script src="https://cdn.example/vega@5"></script><script src=//cdn.example/x.js></script><script>1</script>'
    assert offline_plots.network_scripts(page) == ["https://cdn.example/vega@5", "//cdn.example/x.js"]


def lay_out_packages(root: Path, versions: dict[str, str], code: dict[str, str]) -> Path:
    """A node_modules folder as `npm ci` lays it out, with the given builds."""
    node_modules = root / "node_modules"
    for name, rel in offline_plots.BUNDLES.items():
        (node_modules / name / rel).parent.mkdir(parents=True)
        (node_modules / name / "package.json").write_text(json.dumps({"name": name, "version": versions[name]}))
        (node_modules / name / rel).write_text(code[name])
    return node_modules


def test_build_template_inlines_each_bundle_once_in_load_order(tmp_path):
    code = {name: f"window.{name.replace('-', '_')} = {{loaded: true}};" for name in offline_plots.BUNDLES}
    node_modules = lay_out_packages(tmp_path, offline_plots.pinned_versions(), code)
    html = offline_plots.build_template(node_modules)
    assert [(s["package"], s["code"]) for s in offline_plots.inlined_scripts(html)] == list(code.items())
    assert html.index("window.vega =") < html.index("window.vega_lite =") < html.index("window.vega_embed =")
    assert html.count("{plot_divs}") == 1 and html.count("{refresh_tag}") == 1


def test_build_template_refuses_unpinned_or_unsafe_code(tmp_path):
    pinned = offline_plots.pinned_versions()
    ok = {name: "1;" for name in offline_plots.BUNDLES}
    wrong = lay_out_packages(tmp_path / "wrong", {**pinned, "vega": "5.0.0"}, ok)
    with pytest.raises(EdgetuneError, match=r"version 5\.0\.0 installed, package\.json pins"):
        offline_plots.build_template(wrong)
    unsafe = lay_out_packages(tmp_path / "unsafe", pinned, {**ok, "vega-lite": "s = '</script>';"})
    with pytest.raises(EdgetuneError, match="cannot be inlined"):
        offline_plots.build_template(unsafe)
    with pytest.raises(EdgetuneError, match="npm ci"):
        offline_plots.build_template(tmp_path / "none")


def test_dvc_plots_show_renders_offline_in_chromium(dvc_project, tmp_path):
    project = make_toy_project(dvc_project)
    project.run("dvc", "repro")
    project.commit("reproduced")
    out = tmp_path / "plots_html"
    project.run("dvc", "plots", "show", "-o", str(out))
    page = out / "index.html"
    html = page.read_text(encoding="utf-8")
    assert offline_plots.network_scripts(html) == [], "a script still loads from the network"
    assert [s["package"] for s in offline_plots.inlined_scripts(html)] == ["vega", "vega-lite", "vega-embed"]

    dom = chromium(page, tmp_path, "--dump-dom").stdout
    charts = re.findall(r'<svg[^>]*class="marks"[^>]*width="(\d+)" height="(\d+)"', dom)
    assert len(charts) == 1 and all(int(w) > 100 and int(h) > 100 for w, h in charts), charts
    lines = re.findall(r'<g class="mark-line role-mark[^"]*"[^>]*>(.*?)</g>', dom, flags=re.DOTALL)
    assert any(re.search(r'<path [^>]*d="M[^"]{20,}"', group) for group in lines), "no line was drawn"
    assert ">toy curve<" in dom and ">step<" in dom and ">value<" in dom  # title and axis titles

    shot = tmp_path / "plots_screenshot.png"
    chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=900,700")
    print(f"screenshot of the offline plots page: {shot}")
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    drawn = (pixels < 230).any(axis=2).mean()
    assert 0.005 < drawn < 0.5, f"{drawn:.4f} of the screenshot is drawn"
    # DVC's first revision colour, #945dd6, is the plotted line.
    line_colour = (np.abs(pixels - np.array([0x94, 0x5D, 0xD6])).sum(axis=2) < 60).sum()
    assert line_colour > 200, f"only {line_colour} pixels of the line colour"
