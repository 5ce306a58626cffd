"""What every section of the params schema shares: the base model, common field types and checks."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PosInt = Annotated[int, Field(ge=1)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]


def check_seeds(seeds: list[int]) -> list[int]:
    """Training seeds of a figure with a spread: at least two, none repeated."""
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds repeat; a repeated seed is the same training twice")
    if len(seeds) < 2:
        raise ValueError("seeds must list at least 2 seeds: an accuracy's 95 % interval needs a spread, e.g. [0, 1, 2, 3, 4]")
    return seeds


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_sha256(sha256: str) -> str:
    if sha256 and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ValueError("must be empty or a sha256 hex digest of 64 characters (as `sha256sum FILE` prints)")
    return sha256.lower()


def check_url(url: str) -> str:
    if not url.startswith(("http://", "https://", "ftp://")):
        raise ValueError("must be a URL starting with http://, https:// or ftp:// (the file, a mirror or a proxy)")
    return url
