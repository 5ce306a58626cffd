"""The TF speech_commands MFCC ("Hello Edge" features) in numpy, and its fixed uint8 scaling.

TensorFlow's ``AudioSpectrogram`` + ``Mfcc`` ops (16 kHz, 1 s, window 640, stride 320, FFT 1024,
40 mel bands 20–4000 Hz, 10 coefficients → 49×10) are what BrainChip's KWS data and models use.
They are re-written here in numpy because importing TensorFlow costs seconds and ~1 GB per worker
process; ``tests/test_mfcc.py`` checks this version equal to ``tf.raw_ops`` on several signals.
The arithmetic follows TF's kernels (spectrogram.cc, mfcc_mel_filterbank.cc, mfcc_dct.cc):
double precision inside, float32 between the two ops and at the output.
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000
WINDOW = 640
STRIDE = 320
FFT_LENGTH = 1024  # TF uses the next power of two above the window
MEL_BANDS = 40
LOWER_HZ = 20.0
UPPER_HZ = 4000.0
COEFFICIENTS = 10
FRAMES = 1 + (CLIP_SAMPLES - WINDOW) // STRIDE  # 49
FILTERBANK_FLOOR = 1e-12


def _freq_to_mel(freq: np.ndarray | float) -> np.ndarray | float:
    return 1127.0 * np.log1p(np.asarray(freq, dtype=np.float64) / 700.0)


@functools.cache
def _periodic_hann() -> np.ndarray:
    i = np.arange(WINDOW, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * i / WINDOW)


@functools.cache
def mel_matrix(input_length: int = FFT_LENGTH // 2 + 1, sample_rate: float = SAMPLE_RATE) -> np.ndarray:
    """(input_length, MEL_BANDS) weights equal to TF's MfccMelFilterbank (HTK-like, DC excluded).

    Each FFT bin between the limits adds ``w`` of its magnitude to one channel and ``1 - w`` to
    the next; bins outside the limits are ignored.
    """
    mel_low, mel_high = _freq_to_mel(LOWER_HZ), _freq_to_mel(UPPER_HZ)
    spacing = (mel_high - mel_low) / (MEL_BANDS + 1)
    centres = mel_low + spacing * np.arange(1, MEL_BANDS + 2)  # one extra centre closes the top band
    hz_per_bin = 0.5 * sample_rate / (input_length - 1)
    start = int(1.5 + LOWER_HZ / hz_per_bin)
    end = int(UPPER_HZ / hz_per_bin)
    matrix = np.zeros((input_length, MEL_BANDS), dtype=np.float64)
    channel = 0
    for i in range(start, end + 1):
        mel = _freq_to_mel(i * hz_per_bin)
        while channel < MEL_BANDS and centres[channel] < mel:
            channel += 1
        band = channel - 1
        if band >= 0:
            weight = (centres[band + 1] - mel) / (centres[band + 1] - centres[band])
            matrix[i, band] += weight
        else:
            weight = (centres[0] - mel) / (centres[0] - mel_low)
        if band + 1 < MEL_BANDS:
            matrix[i, band + 1] += 1.0 - weight
    return matrix


@functools.cache
def dct_matrix() -> np.ndarray:
    """(MEL_BANDS, COEFFICIENTS) DCT-II as TF's MfccDct computes it (sqrt(2/N), no special k=0)."""
    j = np.arange(MEL_BANDS, dtype=np.float64)
    k = np.arange(COEFFICIENTS, dtype=np.float64)[None, :]
    return np.sqrt(2.0 / MEL_BANDS) * np.cos(np.pi / MEL_BANDS * k * (j[:, None] + 0.5))


def power_spectrogram(audio: np.ndarray) -> np.ndarray:
    """(…, 16000) float audio in [-1, 1] → (…, 49, 513) float32, as ``AudioSpectrogram(magnitude_squared=True)``."""
    audio = np.asarray(audio, dtype=np.float32).astype(np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(audio, WINDOW, axis=-1)[..., ::STRIDE, :]
    spectrum = np.fft.rfft(frames * _periodic_hann(), n=FFT_LENGTH, axis=-1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


def warp_frequencies(magnitude: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Vocal-tract-length perturbation (Jaitly & Hinton 2013): clip i's spectrum stretched by ``warp[i]``.

    ``magnitude`` is (n, frames, bins); the output's bin k takes the input at bin k / warp[i]
    (linear interpolation): warp > 1 moves every formant up (a shorter vocal tract), < 1 down.
    """
    bins = magnitude.shape[-1]
    source = np.arange(bins, dtype=np.float64)[None, :] / np.asarray(warp, np.float64)[:, None]
    source = np.clip(source, 0, bins - 1)
    low = np.minimum(np.floor(source).astype(np.int64), bins - 2)
    frac = (source - low)[:, None, :]
    lo = np.take_along_axis(magnitude, np.broadcast_to(low[:, None, :], magnitude.shape), axis=-1)
    hi = np.take_along_axis(magnitude, np.broadcast_to(low[:, None, :] + 1, magnitude.shape), axis=-1)
    return lo * (1.0 - frac) + hi * frac


def mfcc(audio: np.ndarray, warp: np.ndarray | None = None) -> np.ndarray:
    """(…, 16000) float audio in [-1, 1] → (…, 49, 10) float32 TF speech_commands MFCC.

    ``warp`` (one factor per clip of a 2-D ``audio``; None = none): see :func:`warp_frequencies`.
    """
    audio = np.asarray(audio)
    if audio.shape[-1] != CLIP_SAMPLES:
        raise ValueError(f"expected {CLIP_SAMPLES} samples (1 s at 16 kHz), got {audio.shape[-1]}")
    power = power_spectrogram(audio).astype(np.float64)
    magnitude = np.sqrt(power) if warp is None else warp_frequencies(np.sqrt(power), warp)
    # einsum, not @: BLAS would start its thread pool in every worker process, spin against the
    # other workers and sum in a thread-count-dependent order; these products are small.
    mel = np.einsum("...k,kc->...c", magnitude, mel_matrix(), optimize=False)
    log_mel = np.log(np.maximum(mel, FILTERBANK_FLOOR))
    return np.einsum("...c,cd->...d", log_mel, dct_matrix(), optimize=False).astype(np.float32)


def mean_normalise(features: np.ndarray) -> np.ndarray:
    """Cepstral mean normalisation: (…, frames, coefficients) minus each clip's mean over its frames.

    A fixed filter on the signal (microphone, line, a voice's average spectral tilt) adds a constant
    to every frame's cepstrum; removing the clip's mean removes it (Atal 1974; standard in ASR).
    """
    features = np.asarray(features, dtype=np.float32)
    return (features - features.mean(axis=-2, keepdims=True, dtype=np.float64)).astype(np.float32)


# uint8 scaling: akida_models has none for this front end, so the pipeline fixes one and stores it.
# Each coefficient keeps its own range (coefficient 0, the log energy, spans far more than the
# others); the range comes from the training set only and is clipped, never re-fit on val.
UINT8_PERCENTILES = (0.5, 99.5)


def fit_uint8_range(train_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-coefficient (low, high) = the 0.5th/99.5th percentiles of the training MFCCs."""
    flat = np.asarray(train_features, dtype=np.float64).reshape(-1, COEFFICIENTS)
    low, high = np.percentile(flat, UINT8_PERCENTILES, axis=0)
    high = np.maximum(high, low + 1e-6)
    return low, high


def to_uint8(features: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """uint8 = round(clip((mfcc - low) / (high - low), 0, 1) × 255), per coefficient."""
    scaled = (np.asarray(features, dtype=np.float64) - np.asarray(low)) / (np.asarray(high) - np.asarray(low))
    return np.rint(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)
