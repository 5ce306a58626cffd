"""fewshot: add the new words to the trained edge layer with k shots each; metrics/fewshot.json, plots/fewshot.csv."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli  # noqa: E402
from edgetune.edge import fewshot  # noqa: E402


def main(argv=None) -> int:
    args = cli.stage_parser(__doc__).parse_args(argv)
    return cli.run_stage("fewshot", lambda: fewshot.run(args.params))


if __name__ == "__main__":
    sys.exit(main())
