"""Stage report: the tutorial regenerated from every stage's metrics and plots → report/."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli, paths  # noqa: E402


def main(argv=None) -> int:
    parser = cli.stage_parser(__doc__)  # --params is accepted but unused: the report reads only stage outputs
    parser.add_argument("--out", default=paths.REPORT_DIR, help=f"the report folder (default: {paths.REPORT_DIR})")
    args = parser.parse_args(argv)

    def body() -> None:
        from edgetune.report import document

        document.run(out_dir=args.out)

    return cli.run_stage("report", body)


if __name__ == "__main__":
    sys.exit(main())
