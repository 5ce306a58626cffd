"""The numpy MFCC must equal TensorFlow's own speech_commands ops, and the uint8 scaling is fixed."""

import numpy as np
import pytest

from edgetune.data import augment, mfcc


def _signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(mfcc.CLIP_SAMPLES) / mfcc.SAMPLE_RATE
    # A real TTS keyword through the augmentation, as the dataset is made.
    from edgetune.data import tts

    speech = tts.EspeakEngine().say("sheila", "en-us", "m3", 170, 50, 50, noise_seed=1)
    return {
        "sine": 0.5 * np.sin(2 * np.pi * 440 * t),
        "chirp": 0.3 * np.sin(2 * np.pi * (100 + 3000 * t) * t),
        "white_noise": rng.normal(0, 0.1, t.shape),
        "clipped_noise": np.clip(rng.normal(0, 1, t.shape), -1, 1),
        "silence": np.zeros_like(t),
        "keyword": augment.keyword_clip(np.random.default_rng(3), speech, 22050),
    }


def test_numpy_mfcc_equals_tensorflow_ops():
    from edgetune.logs import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    signals = _signals()
    ours = mfcc.mfcc(np.stack([s.astype(np.float32) for s in signals.values()]))
    assert ours.shape == (len(signals), 49, 10) and ours.dtype == np.float32
    for (name, audio), mine in zip(signals.items(), ours):
        spectrogram = tf.raw_ops.AudioSpectrogram(input=audio.astype(np.float32)[:, None], window_size=640,
                                                  stride=320, magnitude_squared=True)
        theirs = tf.raw_ops.Mfcc(spectrogram=spectrogram, sample_rate=16000, upper_frequency_limit=4000.0,
                                 lower_frequency_limit=20.0, filterbank_channel_count=40,
                                 dct_coefficient_count=10).numpy()[0]
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(mfcc.power_spectrogram(audio), spectrogram.numpy()[0], rtol=1e-5, atol=1e-9,
                                   err_msg=name)


def test_mfcc_refuses_clips_that_are_not_one_second():
    with pytest.raises(ValueError, match="16000 samples"):
        mfcc.mfcc(np.zeros(8000))


def test_uint8_range_comes_from_train_and_clips_outside_values():
    rng = np.random.default_rng(0)
    train = rng.normal(0, 1, (200, 49, 10)) * np.arange(1, 11)  # each coefficient its own spread
    low, high = mfcc.fit_uint8_range(train)
    assert low.shape == high.shape == (10,)
    assert np.all(np.diff(high - low) > 0)  # per-coefficient ranges follow the spreads
    q = mfcc.to_uint8(train, low, high)
    assert q.dtype == np.uint8 and q.shape == train.shape
    assert 0.002 < (q == 0).mean() < 0.02 and 0.002 < (q == 255).mean() < 0.02  # 0.5 % clipped each side
    far = mfcc.to_uint8(np.array([[-1e6] * 10, [1e6] * 10]), low, high)
    assert far[0].tolist() == [0] * 10 and far[1].tolist() == [255] * 10
