"""Stage sweep: loss and learned neurons against neurons per class (tutorial §4), knees found."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli, paths  # noqa: E402


def main(argv=None) -> int:
    parser = cli.stage_parser(__doc__)
    parser.add_argument("--spikes", default=paths.SPIKES)
    parser.add_argument("--weights", default=paths.WEIGHTS_METRICS, help="the weights stage's metrics (num_weights)")
    args = parser.parse_args(argv)

    def body() -> None:
        from edgetune.edge import sweep

        sweep.run(params_path=args.params, spikes_path=args.spikes, weights_path=args.weights)

    return cli.run_stage("sweep", body)


if __name__ == "__main__":
    sys.exit(main())
