"""Stage confusion: the edge layer at table.reference (first seed) on the validation set → plots/confusion/edge.csv."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli  # noqa: E402
from edgetune.edge import edge_confusion  # noqa: E402


def main(argv=None) -> int:
    parser = cli.stage_parser(__doc__)
    args = parser.parse_args(argv)
    return cli.run_stage("confusion", lambda: edge_confusion.run(params_path=args.params))


if __name__ == "__main__":
    sys.exit(main())
