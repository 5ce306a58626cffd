"""Stage table: the accuracy / time-ratio table from the table-train items."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli, paths  # noqa: E402
from edgetune.edge import table  # noqa: E402


def main(argv=None) -> int:
    args = cli.stage_parser(__doc__).parse_args(argv)
    return cli.run_stage("table", lambda: table.run(params_path=args.params, hardware_metrics=paths.HARDWARE_METRICS))


if __name__ == "__main__":
    sys.exit(main())
