"""Who speaks a clip, as the accuracy tables count it: a voice group per held-out person.

eSpeak NG's variants are one synthesiser's voices, not persons, so they pool into ``espeak``; any
other person (an ARCTIC speaker voiced by flite and festival alike) is a group of its own. Shared
by the extractor's accuracy by group and the dataset's record of which engine speaks which group.
"""

from __future__ import annotations

ESPEAK_PREFIX = "espeak-"


def voice_group(speaker: str) -> str:
    """``espeak`` for eSpeak's variants, the person otherwise; ``silence`` for a clip without a voice."""
    speaker = str(speaker)
    return "silence" if not speaker else "espeak" if speaker.startswith(ESPEAK_PREFIX) else speaker
