"""The offline HTML template for ``dvc plots show`` / ``dvc plots diff``.

DVC's plot pages load vega, vega-lite and vega-embed from a CDN, so without internet they are
blank. DVC reads ``plots.html_template`` as text and writes the page wherever ``-o`` says, so a
``<script src>`` pointing at a local file would only resolve from one folder: the template
instead *inlines* the pinned builds from the npm registry (``assets/plots/package.json`` and its
lock). The template has no ``{scripts}`` placeholder, so DVC's CDN ``<script>`` tags are dropped.

Rebuild after changing a pinned version: ``make plots-template`` (``npm ci`` then
``python assets/plots/build.py``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from edgetune.atomic import write_text
from edgetune.errors import EdgetuneError

ASSETS = Path(__file__).resolve().parents[3] / "assets" / "plots"
TEMPLATE = ASSETS / "template.html"
LICENSES = ASSETS / "THIRD-PARTY-LICENSES.txt"

# Load order matters: vega-embed's UMD build reads the ``vega`` and ``vegaLite`` globals.
BUNDLES = {
    "vega": "build/vega.min.js",
    "vega-lite": "build/vega-lite.min.js",
    "vega-embed": "build/vega-embed.min.js",
}
# What dvc_render substitutes in a template; the inlined code must not contain any of them.
DVC_PLACEHOLDERS = ("{scripts}", "{plot_divs}", "{refresh_tag}")
# Dependencies the browser builds leave out: command-line tools and Node-only fetch/IO.
NODE_ONLY = frozenset({"yargs", "commander", "rw", "iconv-lite", "node-fetch", "@rollup/rollup-linux-x64-gnu"})
LICENSE_NAMES = re.compile(r"^(licen[cs]e|copying)(\.(md|txt|mit))?$|^license-mit\.txt$", re.IGNORECASE)

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC Plot (edgetune, offline)</title>
    <!-- {banner}
         Inlined so the page renders without network; licences: assets/plots/THIRD-PARTY-LICENSES.txt -->
{inline_scripts}
    <script>
        // SVG rather than canvas: sharper when zoomed or printed, and the drawn marks are in the DOM.
        window.vegaEmbed = (function (embed) {{
            return function (el, spec, opt) {{
                return embed(el, spec, Object.assign({{renderer: "svg"}}, opt || {{}}));
            }};
        }})(window.vegaEmbed);
    </script>
    <style>
        body {{ font-family: sans-serif; }}
        table {{ border-spacing: 15px; }}
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def package_version(node_modules: Path, name: str) -> str:
    return json.loads((node_modules / name / "package.json").read_text())["version"]


def pinned_versions(package_json: Path = ASSETS / "package.json") -> dict[str, str]:
    """The exact versions ``assets/plots/package.json`` pins for the inlined bundles."""
    deps = json.loads(package_json.read_text())["dependencies"]
    return {name: deps[name] for name in BUNDLES}


def build_template(node_modules: Path) -> str:
    """The template text: DVC's page layout with the three pinned bundles inlined."""
    pinned = pinned_versions()
    blocks, banner = [], []
    for name, rel in BUNDLES.items():
        path = node_modules / name / rel
        if not path.is_file():
            raise EdgetuneError(f"{path} is missing: run `npm ci` in {ASSETS} first (make plots-template)")
        version = package_version(node_modules, name)
        if version != pinned[name]:
            raise EdgetuneError(
                f"{node_modules / name / 'package.json'}: version {version} installed, package.json pins "
                f"{pinned[name]}; run `npm ci` in {ASSETS}"
            )
        code = path.read_text(encoding="utf-8")
        # A literal "</script" would end the inline block early; a DVC placeholder would be replaced.
        for bad in ("</script", *DVC_PLACEHOLDERS):
            if bad in code:
                raise EdgetuneError(f"{path} contains {bad!r}: it cannot be inlined into an HTML template as is")
        sha = hashlib.sha256(code.encode("utf-8")).hexdigest()
        banner.append(f"{name} {version}")
        blocks.append(
            f'    <script data-package="{name}" data-version="{version}" data-sha256="{sha}">\n{code}\n    </script>'
        )
    text = PAGE.format(
        banner="Inlined: " + ", ".join(banner) + " (BSD-3-Clause, University of Washington Interactive Data Lab).",
        inline_scripts="\n".join(blocks),
        refresh_tag="{refresh_tag}",
        plot_divs="{plot_divs}",
    )
    return text


def inlined_scripts(html: str) -> list[dict[str, str]]:
    """The inlined bundles of a page or template: package, version, declared sha256 and code."""
    pattern = re.compile(
        r'<script data-package="([^"]+)" data-version="([^"]+)" data-sha256="([0-9a-f]+)">\n(.*?)\n    </script>',
        re.DOTALL,
    )
    return [
        {"package": m.group(1), "version": m.group(2), "sha256": m.group(3), "code": m.group(4)}
        for m in pattern.finditer(html)
    ]


def network_scripts(html: str) -> list[str]:
    """``<script src>`` URLs that need the network (http, https or protocol-relative)."""
    srcs = re.findall(r"<script\b[^>]*\bsrc\s*=\s*[\"']?([^\"' >]+)", html, flags=re.IGNORECASE)
    return [src for src in srcs if re.match(r"^(https?:)?//", src, flags=re.IGNORECASE)]


def bundled_packages(lock: dict) -> list[str]:
    """Packages whose code the three browser bundles carry: the lock's dependency closure of the
    bundles, not walking into :data:`NODE_ONLY` (npm resolves every name to the top-level
    ``node_modules/NAME`` here; nested copies are looked up first)."""
    packages = lock["packages"]
    seen: set[str] = set()
    todo = [f"node_modules/{name}" for name in BUNDLES]
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        meta = packages[key]
        for dep in {**meta.get("dependencies", {}), **meta.get("peerDependencies", {})}:
            if dep in NODE_ONLY:
                continue
            nested = f"{key}/node_modules/{dep}"
            todo.append(nested if nested in packages else f"node_modules/{dep}")
    return sorted(seen)


def third_party_licenses(node_modules: Path, lock_path: Path) -> str:
    """Licence texts of every package the inlined bundles carry.

    Identical texts are printed once with the packages they cover; packages that ship no licence
    file are listed with the licence their package.json declares.
    """
    lock = json.loads(lock_path.read_text())
    by_text: dict[str, list[str]] = {}
    without_file: list[str] = []
    for key in bundled_packages(lock):
        meta = lock["packages"][key]
        folder = node_modules.parent / key
        name = key.removeprefix("node_modules/").replace("/node_modules/", " > ")
        label = f"{name} {meta.get('version', '?')} ({meta.get('license', 'licence not declared')})"
        files = sorted(p for p in folder.iterdir() if LICENSE_NAMES.match(p.name))
        if files:
            by_text.setdefault(files[0].read_text(encoding="utf-8", errors="replace").strip(), []).append(label)
        else:
            without_file.append(label)
    parts = [
        "Third-party licences of the JavaScript inlined into assets/plots/template.html:",
        "vega, vega-lite, vega-embed and the dependencies their browser builds bundle",
        "(versions from assets/plots/package-lock.json).",
        "",
    ]
    for text, labels in by_text.items():
        parts += ["=" * 78, *labels, "-" * 78, text, ""]
    if without_file:
        parts += [
            "=" * 78,
            "Packages whose npm tarball ships no licence file (licence as declared in their package.json;",
            "the vega-* ones are parts of the vega project, whose BSD-3-Clause text is given above):",
            *without_file,
            "",
        ]
    return "\n".join(parts)


def build(node_modules: Path = ASSETS / "node_modules") -> None:
    write_text(TEMPLATE, build_template(node_modules))
    write_text(LICENSES, third_party_licenses(node_modules, ASSETS / "package-lock.json"))
