"""Stage extractor-time: the extractor's forward pass over the training set, timed repeatedly (the
whole model's share of every time ratio), and one direct whole-model fit that checks the sum."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli  # noqa: E402
from edgetune.edge import extractor_time  # noqa: E402


def main(argv=None) -> int:
    args = cli.stage_parser(__doc__).parse_args(argv)
    return cli.run_stage("extractor-time", lambda: extractor_time.run(params_path=args.params))


if __name__ == "__main__":
    sys.exit(main())
