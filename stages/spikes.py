"""DVC stage `spikes`: forward data/kws.npz through models/extractor.fbz → data/spikes.npz + statistics."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli  # noqa: E402
from edgetune.edge import spikes  # noqa: E402


def main(argv=None) -> int:
    args = cli.stage_parser(__doc__).parse_args(argv)
    return cli.run_stage("spikes", lambda: spikes.run(args.params))


if __name__ == "__main__":
    sys.exit(main())
