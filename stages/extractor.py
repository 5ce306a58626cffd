"""DVC stage `extractor`: data/kws.npz → models/extractor.fbz (binary spikes) + metrics/extractor.json."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli, paths  # noqa: E402
from edgetune.extractor import build as extractor  # noqa: E402


def main(argv=None) -> int:
    parser = cli.stage_parser(__doc__)
    parser.add_argument("--data", default=paths.DATASET, help=f"dataset (default: {paths.DATASET})")
    parser.add_argument("--model", default=paths.EXTRACTOR, help="output Akida model")
    parser.add_argument("--metrics", default=paths.EXTRACTOR_METRICS, help="output metrics")
    args = parser.parse_args(argv)
    return cli.run_stage("extractor", lambda: extractor.run(args.params, args.data, args.model, args.metrics))


if __name__ == "__main__":
    sys.exit(main())
