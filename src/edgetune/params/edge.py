"""The edge-learning sections of the params schema: spikes, weights, sweep, table and hardware."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edgetune.params.base import PosInt, Seed, Section, check_seeds
from edgetune.vocabulary import TUTORIAL_NEURONS_PER_CLASS


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
    jobs: Annotated[int, Field(ge=0)] = 0  # worker processes for the factor curve's trainings; 0 = all cores

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
    # worker processes for each round's edge fits (one core each); 0 = all cores. The accuracies are
    # the same bytes on any number; the times are each fit's own worker's CPU time
    jobs: Annotated[int, Field(ge=0)] = 0

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
