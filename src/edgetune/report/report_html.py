"""The report as one self-contained HTML file: the markdown rendered, every figure a data URI.

markdown-it-py (CommonMark + tables) renders the text; image sources are rewritten on its token
stream, not by searching the HTML, so only real image links change. A figure link that does not
resolve to a file inside the report folder is an error: the HTML must never point outside itself.
"""

from __future__ import annotations

import base64
import html
import mimetypes
from pathlib import Path

from markdown_it import MarkdownIt

from edgetune.errors import EdgetuneError

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 62rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #1a1a1a; }
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .92rem; }
th, td { border: 1px solid #ccc; padding: .25rem .55rem; } th { background: #f3f3f3; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; height: auto; display: block; margin: .8rem 0; }
code { background: #f3f3f3; padding: 0 .2rem; border-radius: 3px; }
""".strip()


def data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def embed_images(tokens, base: Path) -> None:
    """Replace each image's relative ``src`` with the file's bytes as a data URI."""
    root = base.resolve()
    for token in tokens:
        for child in token.children or []:
            if child.type != "image":
                continue
            src = str(child.attrGet("src") or "")
            path = (base / src).resolve()
            if "://" in src or not path.is_relative_to(root) or not path.is_file():
                raise EdgetuneError(f"report: figure '{src}' is not a file inside {base}; the HTML must embed every figure")
            child.attrSet("src", data_uri(path))


def render(markdown: str, base: Path, title: str | None = None) -> str:
    """HTML page for ``markdown`` whose image links are relative to ``base``."""
    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(markdown)
    embed_images(tokens, base)
    body = md.renderer.render(tokens, md.options, {})
    if title is None:
        first = next((line for line in markdown.splitlines() if line.startswith("# ")), "# Report")
        title = first[2:].strip()
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
