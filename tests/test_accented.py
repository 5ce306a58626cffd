"""The accented engine: festival's voices of other languages reading the English words."""

import numpy as np
import pytest

from edgetune.data import festival_engine, synthetic, tts
from edgetune.errors import EdgetuneError
from edgetune.params import DataParams
from edgetune.vocabulary import SPEECH_COMMANDS_WORDS

DEFAULT = ["espeak", "flite", "festival"]
WITH_ACCENTED = [*DEFAULT, "accented"]


def test_every_accented_voice_speaks_every_word_and_the_same_bytes_twice():
    requests = [festival_engine.FestivalRequest(w, v, 1.0)
                for v in festival_engine.ACCENTED_VOICES for w in SPEECH_COMMANDS_WORDS]
    first = festival_engine.festival_batch(requests)
    for req, (audio, rate) in zip(requests, first):
        assert rate >= 16000 and len(audio) / rate > 0.3, (req.voice, req.text)  # a spoken word, not a click
        assert np.sqrt(np.mean(audio ** 2)) > 0.01, (req.voice, req.text)
    again = festival_engine.festival_batch(requests[::35])  # the first word of each voice, in a new process
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(again, first[::35]))


def test_adding_accented_keeps_the_held_out_persons_and_holds_out_two_of_its_nine():
    for seed in range(5):
        before = synthetic.split_voices(DEFAULT, 0.2, seed)
        after = synthetic.split_voices(WITH_ACCENTED, 0.2, seed)
        accented = {p for p, _ in festival_engine.ACCENTED_VOICES.values()}
        val = {v.speaker for v in after["val"]}
        assert val - accented == {v.speaker for v in before["val"]}
        assert len(val & accented) == round(0.2 * 9) == 2
        assert not val & {v.speaker for v in after["train"]}
    assert len({frozenset(v.speaker for v in synthetic.split_voices(WITH_ACCENTED, 0.2, s)["val"]
                          if v.engine == "accented") for s in range(5)}) > 1  # the seed draws them


def test_an_accented_chunk_shares_the_clips_four_ways_and_is_byte_identical_when_made_again():
    plan = synthetic.plan(DataParams(words=["yes", "no"], clips_per_word=40, engines=WITH_ACCENTED))
    for split in ("train", "val"):
        per_engine = [sum(c.engine == e and c.label == 1 for c in plan.clips if c.split == split) for e in WITH_ACCENTED]
        assert max(per_engine) - min(per_engine) <= 1 and min(per_engine) > 0
    chunk = next(c for c in synthetic.chunks(plan.clips) if c[0].engine == "accented")
    where, features = synthetic.make_chunk(chunk)
    assert len(where) == len(chunk) == features.shape[0] and np.isfinite(features).all()
    assert np.array_equal(features, synthetic.make_chunk(chunk)[1])


def test_accented_reports_festival_and_a_missing_voice_names_its_package(monkeypatch):
    assert tts.check_engines(["accented"])["accented"] == tts.check_engines(["festival"])["festival"]
    monkeypatch.setitem(festival_engine.ENGINES, "accented", {"czech_nobody": ("cs-nobody", "festvox-czech-nobody")})
    with pytest.raises(EdgetuneError, match=r"^data\.engines: accented: festival lacks voices \['czech_nobody'\]; "
                                            r"install it with `sudo apt-get install festvox-czech-nobody` \(or `make setup`\), "
                                            r"or remove accented from data.engines$"):
        tts.check_engines(["accented"])
