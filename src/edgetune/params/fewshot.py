"""The ``fewshot`` section of the params schema: new words added to the trained edge layer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgetune.params.base import PosInt, Seed, check_seeds
from edgetune.vocabulary import NEW_WORDS


class FewshotParams(BaseModel):
    """fewshot: new words added to the trained edge layer with k shots each (BrainChip's KWS edge tutorial)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # which of the new words (data/new_words.npz) to add, or 'all' of its classes (a user's new_classes);
    # checked against that file when the stage runs
    words: list[str] | Literal["all"] = Field(default_factory=lambda: list(NEW_WORDS))
    # training samples per new word given to fit; each value a row of metrics/fewshot.json
    shots: list[PosInt] = Field(default_factory=lambda: [1, 2, 5, 10, 20, 50, 160])
    # the layer's size: 'plateau' = plateau_neurons_per_class of metrics/table.json, or a number
    neurons_per_class: PosInt | Literal["plateau"] = "plateau"
    seeds: list[Seed] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    # layer sizes measured beside neurons_per_class, in every arm (the tutorial's layer has 15)
    compare_neurons_per_class: list[PosInt] = Field(default_factory=lambda: [15])
    # the tutorial's one-person test: per held-out person, this many clips of each new word, each
    # augmented this many times, learned in one fit; persons with fewer test clips left are skipped
    personal_utterances: PosInt = 4
    personal_augment: PosInt = 40
    personal_test_clips: PosInt = 5
    # words the extractor was trained on, left out of the layer and added as the new words are: a control
    heard_words: list[str] = Field(default_factory=lambda: ["bird", "house", "wow"])
    jobs: Annotated[int, Field(ge=0)] = 0  # worker processes for the (seed, layer size) trainings; 0 = all cores

    @field_validator("words")
    @classmethod
    def _distinct_words(cls, words: list[str] | str) -> list[str] | str:
        if words == "all":
            return words
        if not words or len(set(words)) != len(words):
            raise ValueError("words must be a non-empty list of new words without repeats, e.g. [backward, follow, forward]")
        return words

    @field_validator("heard_words")
    @classmethod
    def _distinct_heard(cls, words: list[str]) -> list[str]:
        if len(set(words)) != len(words):
            raise ValueError("heard_words must name each class once, e.g. [bird, house, wow], or be [] to skip the control")
        return words

    @field_validator("shots")
    @classmethod
    def _sorted_shots(cls, shots: list[int]) -> list[int]:
        if not shots or len(set(shots)) != len(shots):
            raise ValueError("shots must list at least one value, each once, e.g. [1, 5, 20]")
        return sorted(shots)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        return check_seeds(seeds)
