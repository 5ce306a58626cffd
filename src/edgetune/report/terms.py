"""The report's words for the data: speech words for KWS MFCC frames, plain ones for anything else.

``metrics/data.json`` records ``sample_shape`` only for data that is not KWS MFCC (a user's images,
say). Such data has no words, voices or speakers as far as the pipeline knows, so the report
speaks of classes, samples and groups there, and says nothing about the data it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Terms:
    speech: bool

    @property
    def item(self) -> str:  # what a class is
        return "word" if self.speech else "class"

    @property
    def items(self) -> str:
        return "words" if self.speech else "classes"

    @property
    def groups(self) -> str:  # who the speaker_* arrays name
        return "voices" if self.speech else "groups"


def terms_of(data: dict) -> Terms:
    return Terms(speech="sample_shape" not in data)
