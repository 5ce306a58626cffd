"""data.voice_perturbation (issue 11): vocal-tract-length perturbation of training clips only."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.data import mfcc, synthetic
from edgetune.params import DataParams, parse_params

WORDS = ["yes", "no", "cat"]


def test_off_by_default_and_bounded():
    assert DataParams().voice_perturbation == 0.0
    with pytest.raises(Exception, match="data.voice_perturbation"):
        parse_params({"data": {"voice_perturbation": 0.5}})


def test_warp_one_is_the_identity_and_a_warp_moves_a_tone_up():
    t = np.arange(mfcc.CLIP_SAMPLES) / mfcc.SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    magnitude = np.sqrt(mfcc.power_spectrogram(tone[None]).astype(np.float64))
    assert np.allclose(mfcc.warp_frequencies(magnitude, np.ones(1)), magnitude)
    assert np.allclose(mfcc.mfcc(tone[None], np.ones(1)), mfcc.mfcc(tone[None]), atol=1e-5)
    hz_per_bin = mfcc.SAMPLE_RATE / mfcc.FFT_LENGTH
    peak = mfcc.warp_frequencies(magnitude, np.array([1.2]))[0, 20].argmax() * hz_per_bin
    assert abs(peak - 1200.0) <= hz_per_bin


def test_only_training_speech_is_warped_and_the_rest_of_the_plan_is_unchanged():
    plain = synthetic.plan(DataParams(words=WORDS, clips_per_word=40))
    warped = synthetic.plan(DataParams(words=WORDS, clips_per_word=40, voice_perturbation=0.1))
    assert all(c.warp == 1.0 for c in plain.clips)
    strip = [(c.split, c.position, c.label, c.word, c.voice, c.seed) for c in warped.clips]
    assert strip == [(c.split, c.position, c.label, c.word, c.voice, c.seed) for c in plain.clips]
    train_speech = [c.warp for c in warped.clips if c.split == "train" and c.voice]
    assert all(0.9 <= w <= 1.1 for w in train_speech) and len(set(train_speech)) == len(train_speech)
    assert all(c.warp == 1.0 for c in warped.clips if c.split == "val" or c.voice is None)


def test_generated_dataset_keeps_the_voices_disjoint_with_perturbation():
    """The real generator (eSpeak only, in-process): no val person's voice, warped or not, in train."""
    params = DataParams(words=["yes", "six"], clips_per_word=10, engines=["espeak"], voice_perturbation=0.15,
                        jobs=1)
    ds = synthetic.generate(params)
    train, val = set(ds.speaker_train) - {""}, set(ds.speaker_val) - {""}
    assert train and val and not train & val
    assert ds.meta["generator"]["voice_perturbation"] == 0.15
    assert "voice_perturbation" not in synthetic.generate(params.model_copy(update={"voice_perturbation": 0.0})).meta[
        "generator"]
