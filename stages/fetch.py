"""fetch: make data/kws.npz (the KWS dataset) and metrics/data.json from params `data`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli  # noqa: E402
from edgetune.data import fetch  # noqa: E402


def main(argv=None) -> int:
    args = cli.stage_parser(__doc__).parse_args(argv)
    return cli.run_stage("fetch", lambda: fetch.run(args.params))


if __name__ == "__main__":
    sys.exit(main())
