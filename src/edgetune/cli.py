"""Glue for the thin stage scripts in ``stages/``: logging, params, and clean failures."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from edgetune.errors import EdgetuneError
from edgetune.logs import setup_logging


def stage_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    return parser


def run_stage(name: str, body: Callable[[], None]) -> int:
    """Run a stage body; a user error becomes one line on stderr and exit status 2."""
    setup_logging(name)
    try:
        body()
    except EdgetuneError as err:
        print(f"edgetune {name}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        logging.getLogger(name).error("interrupted; no output was written")
        return 130
    return 0
