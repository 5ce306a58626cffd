"""The schema of params.yaml, checked at load so a wrong value fails with one clear line.

Each pipeline section is a pydantic model, one module per phase (:mod:`.data`, :mod:`.extractor`,
:mod:`.edge`, :mod:`.fewshot`, on :mod:`.base`); unknown keys are refused (a typo must not silently
fall back to a default). :func:`load_params` turns pydantic's errors into
``params.yaml: data.clips_per_word = -3: Input should be greater than or equal to 2``.
"""

from __future__ import annotations

from pathlib import Path

import ruamel.yaml
import yaml
from pydantic import Field, ValidationError

from edgetune.errors import EdgetuneError
from edgetune.params.base import Section
from edgetune.params.data import DataParams
from edgetune.params.edge import HardwareParams, SpikesParams, SweepParams, TableParams, WeightsParams
from edgetune.params.extractor import ExtractorParams
from edgetune.params.fewshot import FewshotParams

__all__ = ["Params", "DataParams", "ExtractorParams", "SpikesParams", "WeightsParams", "SweepParams", "TableParams",
           "HardwareParams", "FewshotParams", "parse_params", "load_params", "read_yaml_as_dvc_does"]


class Params(Section):
    data: DataParams = Field(default_factory=DataParams)
    extractor: ExtractorParams = Field(default_factory=ExtractorParams)
    spikes: SpikesParams = Field(default_factory=SpikesParams)
    weights: WeightsParams = Field(default_factory=WeightsParams)
    sweep: SweepParams = Field(default_factory=SweepParams)
    table: TableParams = Field(default_factory=TableParams)
    hardware: HardwareParams = Field(default_factory=HardwareParams)
    fewshot: FewshotParams = Field(default_factory=FewshotParams)


def _describe(err: dict, raw: dict, path: Path) -> str:
    loc = [str(part) for part in err["loc"]]
    key = ".".join(loc)
    value = err.get("input")
    shown = "" if isinstance(value, dict) else f" = {value!r}"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see params.yaml in the repository for the keys)"
    return f"{path}: {key}{shown}: {msg}"


def parse_params(raw: dict | None, path: str | Path = "params.yaml") -> Params:
    """Validate a params mapping; raise EdgetuneError with one line per problem."""
    path = Path(path)
    try:
        return Params.model_validate(raw or {})
    except ValidationError as exc:
        lines = [_describe(err, raw or {}, path) for err in exc.errors()]
        raise EdgetuneError("\n".join(lines)) from None


def read_yaml_as_dvc_does(text: str):
    """Parse params.yaml with DVC's own parser (ruamel, YAML 1.2).

    ``dvc exp run -S`` rewrites the whole file with a YAML 1.2 writer, which leaves the words
    ``no``, ``off``, ``on``, ``yes`` unquoted; a YAML 1.1 reader (PyYAML) would turn them into
    booleans and reject ``data.words``. Reading as DVC reads keeps what DVC shows and diffs.
    """
    return ruamel.yaml.YAML(typ="safe").load(text)


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        raw = read_yaml_as_dvc_does(path.read_text())
    except FileNotFoundError:
        raise EdgetuneError(f"{path}: not found; run from the repository root or pass --params") from None
    except (yaml.YAMLError, ruamel.yaml.YAMLError) as exc:
        raise EdgetuneError(f"{path}: not valid YAML: {exc}") from None
    if raw is not None and not isinstance(raw, dict):
        raise EdgetuneError(f"{path}: must be a mapping of sections (data, extractor, …)")
    return parse_params(raw, path)
