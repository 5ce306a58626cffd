"""Turn a clean TTS word into a 1 s, 16 kHz clip that looks like a recorded keyword.

Clean TTS is too easy: every clip of a voice is identical and the word always sits in silence.
What made the data learnable but not trivial (DESIGN.md §5): trim, speed perturbation, gain,
random placement in the second, coloured noise at a random SNR and a random band-pass "channel"
(microphone/line). ``silence`` clips are that noise and channel alone. Every draw comes from
the clip's own ``numpy.random.Generator``, so a clip depends only on its seed.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy import signal

from edgetune.data.mfcc import CLIP_SAMPLES, SAMPLE_RATE

# The ranges drawn from, in one place so they can be read (and cited) at a glance.
TRIM_DB = 40.0  # trim leading/trailing audio quieter than peak − 40 dB (10 ms frames)
SPEED = (0.85, 1.15)  # speed perturbation: tempo and pitch together, like resampling a tape
MAX_WORD_SECONDS = 0.98  # longer words are sped up to fit the 1 s clip
SPEECH_RMS_DBFS = (-32.0, -12.0)
SNR_DB = (0.0, 35.0)  # noise below the speech by this much (most clips)
CLEAN_FRACTION = 0.1  # the rest: almost clean (SNR 40–50 dB)
NOISE_COLOUR = (0.0, 2.0)  # power spectrum ∝ 1/f^β: 0 white, 1 pink, 2 brown
CHANNEL_FRACTION = 0.7  # clips passed through a random band-pass "channel"
CHANNEL_LOW_HZ = (60.0, 400.0)
CHANNEL_HIGH_HZ = (2800.0, 7600.0)
SILENCE_RMS_DBFS = (-70.0, -25.0)


def trim(audio: np.ndarray, sample_rate: int, threshold_db: float = TRIM_DB) -> np.ndarray:
    """Drop leading and trailing 10 ms frames quieter than ``peak − threshold_db``."""
    frame = max(1, sample_rate // 100)
    count = len(audio) // frame
    if count == 0:
        return audio
    energy = np.sqrt(np.mean(audio[: count * frame].reshape(count, frame) ** 2, axis=1))
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-threshold_db / 20))
    if len(loud) == 0:
        return audio
    return audio[loud[0] * frame : (loud[-1] + 1) * frame]


def resample(audio: np.ndarray, ratio: float) -> np.ndarray:
    """Change length by ``ratio`` (FFT resampling; zero padding keeps the ends clean)."""
    target = max(1, int(round(len(audio) * ratio)))
    padded_len = sfft.next_fast_len(len(audio) + 256)
    padded = np.zeros(padded_len, dtype=np.float64)
    padded[: len(audio)] = audio
    out = signal.resample(padded, int(round(padded_len * ratio)))
    return out[:target]


def coloured_noise(rng: np.random.Generator, length: int, beta: float) -> np.ndarray:
    """Gaussian noise with power spectrum ∝ 1/f^beta, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, d=1.0 / SAMPLE_RATE)
    spectrum *= np.maximum(freqs, 20.0) ** (-beta / 2.0)
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, n=length)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def channel(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """With probability CHANNEL_FRACTION, a 2nd-order Butterworth band-pass with random edges."""
    if rng.random() >= CHANNEL_FRACTION:
        return audio
    low = rng.uniform(*CHANNEL_LOW_HZ)
    high = rng.uniform(*CHANNEL_HIGH_HZ)
    sos = signal.butter(2, [low, high], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return signal.sosfilt(sos, audio)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def keyword_clip(rng: np.random.Generator, speech: np.ndarray, sample_rate: int,
                 snr_db: tuple[float, float] = SNR_DB) -> np.ndarray:
    """A TTS word at its native rate → float32 (16000,) clip in [-1, 1].

    ``snr_db``: the range of the noise's SNR for all but the CLEAN_FRACTION of clips (the same
    draws whatever the range, so a clip keeps its placement, noise colour and channel).
    """
    word = trim(np.asarray(speech, dtype=np.float64), sample_rate)
    ratio = SAMPLE_RATE / sample_rate / rng.uniform(*SPEED)
    ratio = min(ratio, MAX_WORD_SECONDS * CLIP_SAMPLES / max(len(word), 1))
    word = resample(word, ratio)
    word *= 10 ** (rng.uniform(*SPEECH_RMS_DBFS) / 20) / (_rms(word) + 1e-12)
    clip = np.zeros(CLIP_SAMPLES, dtype=np.float64)
    start = int(rng.integers(0, CLIP_SAMPLES - len(word) + 1))
    clip[start : start + len(word)] = word
    snr = rng.uniform(40.0, 50.0) if rng.random() < CLEAN_FRACTION else rng.uniform(*snr_db)
    noise = coloured_noise(rng, CLIP_SAMPLES, rng.uniform(*NOISE_COLOUR))
    clip += noise * _rms(word) * 10 ** (-snr / 20)
    clip = channel(rng, clip)
    return np.clip(clip, -1.0, 1.0).astype(np.float32)


def silence_clip(rng: np.random.Generator) -> np.ndarray:
    """The ``_silence_`` class: coloured background noise through a channel, no speech."""
    noise = coloured_noise(rng, CLIP_SAMPLES, rng.uniform(*NOISE_COLOUR))
    noise *= 10 ** (rng.uniform(*SILENCE_RMS_DBFS) / 20)
    return np.clip(channel(rng, noise), -1.0, 1.0).astype(np.float32)
