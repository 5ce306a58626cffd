"""fetch-new-words: data/new_words.npz, the few-shot new words kept out of data/kws.npz, and metrics/new_words.json."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli  # noqa: E402
from edgetune.data import new_words  # noqa: E402


def main(argv=None) -> int:
    args = cli.stage_parser(__doc__).parse_args(argv)
    return cli.run_stage("fetch-new-words", lambda: new_words.run(args.params))


if __name__ == "__main__":
    sys.exit(main())
