"""Review a change: params/metrics diffs and both sides' plots against BASE → review/report.md.

Not a DVC stage (it compares revisions, it is not part of the pipeline): `make review BASE=<ref>`.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli  # noqa: E402
from edgetune.report import review  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git revision to compare the workspace with, e.g. HEAD~1, origin/main")
    parser.add_argument("--out", default="review", help="output folder (default: review)")
    args = parser.parse_args(argv)
    return cli.run_stage("review", lambda: review.build_review(args.base, Path("."), Path(args.out)))


if __name__ == "__main__":
    sys.exit(main())
