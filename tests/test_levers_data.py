"""Data levers: data.voice_perturbation (training clips only) and data.val_snr_db (validation noise)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgetune.data import mfcc, synthetic
from edgetune.params import DataParams, parse_params
from edgetune.errors import EdgetuneError

WORDS = ["yes", "no", "cat"]


def test_off_by_default_and_bounded():
    assert DataParams().voice_perturbation == 0.0
    with pytest.raises(EdgetuneError, match=r"^params.yaml: data.voice_perturbation = 0.5: Input should be less than or equal to 0.3$"):
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


def test_val_snr_db_default_and_checks():
    assert DataParams().val_snr_db == [20.0, 35.0]  # the default; [0, 35] = the widest range
    for bad in ([20.0], [30.0, 20.0], [-1.0, 10.0], [10.0, 60.0]):
        with pytest.raises(EdgetuneError, match=rf"^params.yaml: data.val_snr_db = {re.escape(str(bad))}: must be \[low, high\] in dB with 0 <= low <= high <= 50"):
            parse_params({"data": {"val_snr_db": bad}})


def test_val_snr_db_moves_only_the_validation_clips_noise():
    from edgetune.data import augment

    plain = synthetic.plan(DataParams(words=WORDS, clips_per_word=40, val_snr_db=[0, 35], train_snr_db=[0, 35]))
    cleaner = synthetic.plan(DataParams(words=WORDS, clips_per_word=40, val_snr_db=[20, 35], train_snr_db=[0, 35]))
    strip = [(c.split, c.position, c.label, c.word, c.voice, c.seed, c.warp) for c in cleaner.clips]
    assert strip == [(c.split, c.position, c.label, c.word, c.voice, c.seed, c.warp) for c in plain.clips]
    assert all(c.snr_db == augment.SNR_DB for c in plain.clips)
    assert all(c.snr_db == (augment.SNR_DB if c.split == "train" else (20.0, 35.0)) for c in cleaner.clips)
    # the same draws: same placement, colour and channel, only the noise's level differs
    t = np.arange(8000) / 16000
    word = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    clip = {snr: augment.keyword_clip(np.random.default_rng(5), word, 16000, snr) for snr in ((0, 0), (20, 20), (50, 50))}
    assert np.array_equal(augment.keyword_clip(np.random.default_rng(5), word, 16000),
                          augment.keyword_clip(np.random.default_rng(5), word, 16000, augment.SNR_DB))
    loud, quiet = (float(np.sqrt(np.mean((clip[s] - clip[(50, 50)]) ** 2))) for s in ((0, 0), (20, 20)))
    assert quiet < loud / 5


def test_generated_dataset_with_cleaner_validation_keeps_training_byte_identical():
    """The real generator (eSpeak only): val_snr_db changes val's MFCC and nothing of training."""
    params = DataParams(words=["yes", "six"], clips_per_word=10, engines=["espeak"], jobs=1, val_snr_db=[0, 35])
    plain = synthetic.generate(params)
    cleaner = synthetic.generate(params.model_copy(update={"val_snr_db": [20.0, 35.0]}))
    assert np.array_equal(plain.x_train, cleaner.x_train) and np.array_equal(plain.y_val, cleaner.y_val)
    assert not np.array_equal(plain.x_val, cleaner.x_val)
    assert cleaner.meta["generator"]["val_snr_db"] == [20.0, 35.0] and "val_snr_db" not in plain.meta["generator"]
    train, val = set(cleaner.speaker_train) - {""}, set(cleaner.speaker_val) - {""}
    assert train and val and not train & val


def test_cmn_is_on_by_default_and_a_bool():
    assert DataParams().cmn is True
    with pytest.raises(EdgetuneError, match=r"^params.yaml: data.cmn = 'sometimes': Input should be a valid boolean"):
        parse_params({"data": {"cmn": "sometimes"}})


def test_mean_normalise_removes_each_clips_constant_per_coefficient():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, mfcc.FRAMES, mfcc.COEFFICIENTS)).astype(np.float32)
    out = mfcc.mean_normalise(x)
    assert out.dtype == np.float32 and np.allclose(out.mean(axis=1), 0, atol=1e-6)
    channel = rng.normal(size=(4, 1, mfcc.COEFFICIENTS)).astype(np.float32) * 5  # a fixed filter per clip
    assert np.allclose(mfcc.mean_normalise(x + channel), out, atol=1e-5)


def test_cmn_applies_to_every_synthesised_split_and_is_recorded():
    """Both the dataset and the new words go through synthesise, so both get the same features."""
    params = DataParams(words=["yes", "six"], clips_per_word=6, engines=["espeak"], jobs=1, cmn=False)
    the_plan = synthetic.plan(params)
    plain = synthetic.synthesise(the_plan, params)
    normalised = synthetic.synthesise(the_plan, params.model_copy(update={"cmn": True}))
    for split in synthetic.SPLITS:
        assert np.array_equal(normalised[split], mfcc.mean_normalise(plain[split]))
    ds = synthetic.generate(params.model_copy(update={"cmn": True}))
    assert ds.meta["generator"]["cmn"] is True and "CMN" in ds.meta["features"]
    assert "cmn" not in synthetic.generate(params).meta["generator"]


def test_train_snr_db_default_checks_and_moves_only_the_training_clips_noise():
    from edgetune.data import augment

    assert DataParams().train_snr_db == [20.0, 35.0]  # validation's range, the default
    for bad in ([20.0], [30.0, 20.0], [-1.0, 10.0], [10.0, 60.0]):
        with pytest.raises(EdgetuneError, match=rf"^params.yaml: data.train_snr_db = {re.escape(str(bad))}: must be \[low, high\] in dB with 0 <= low <= high <= 50"):
            parse_params({"data": {"train_snr_db": bad}})
    plain = synthetic.plan(DataParams(words=WORDS, clips_per_word=40, train_snr_db=[0, 35]))
    cleaner = synthetic.plan(DataParams(words=WORDS, clips_per_word=40, train_snr_db=[10, 40]))
    strip = [(c.split, c.position, c.label, c.word, c.voice, c.seed, c.warp) for c in cleaner.clips]
    assert strip == [(c.split, c.position, c.label, c.word, c.voice, c.seed, c.warp) for c in plain.clips]
    assert all(c.snr_db == ((10.0, 40.0) if c.split == "train" else (20.0, 35.0)) for c in cleaner.clips)
    assert all(c.snr_db == (augment.SNR_DB if c.split == "train" else (20.0, 35.0)) for c in plain.clips)


def test_a_generated_dataset_records_its_training_noise_in_meta_and_metrics():
    from edgetune.data.fetch import data_metrics

    params = DataParams(words=["yes"], clips_per_word=6, engines=["espeak"], jobs=1, train_snr_db=[10, 40])
    ds = synthetic.generate(params)
    assert ds.meta["generator"]["train_snr_db"] == [10.0, 40.0]
    assert data_metrics(ds)["val_regime"]["training_snr_db"] == [10.0, 40.0]
    assert "train_snr_db" not in synthetic.generate(params.model_copy(update={"train_snr_db": [0.0, 35.0]})).meta["generator"]
