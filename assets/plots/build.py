"""Rebuild assets/plots/template.html and THIRD-PARTY-LICENSES.txt from the pinned npm packages.

Run by `make plots-template` after `npm ci` in this folder; both outputs are committed, so
neither Node nor the npm registry is needed to render plots.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from edgetune import cli, offline_plots  # noqa: E402


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    return cli.run_stage("plots-template", offline_plots.build)


if __name__ == "__main__":
    sys.exit(main())
