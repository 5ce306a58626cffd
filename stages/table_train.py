"""Stage table-train (one DVC matrix item per seed): full trainings at every neurons-per-class value, timed in rounds."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli  # noqa: E402
from edgetune.edge import table_train  # noqa: E402


def main(argv=None) -> int:
    parser = cli.stage_parser(__doc__)
    parser.add_argument("--seed", type=int, required=True, help="the seed to train (one of table.seeds)")
    args = parser.parse_args(argv)
    return cli.run_stage("table-train", lambda: table_train.run(args.seed, params_path=args.params))


if __name__ == "__main__":
    sys.exit(main())
