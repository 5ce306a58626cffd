"""SpecAugment (Park et al. 2019) on uint8 MFCC batches, numpy only: the extractor's ``specaugment`` lever.

Masking whole frames (time) and whole MFCC coefficients (the "frequency" axis of a cepstrum)
hides parts of each training sample so the network cannot lean on one cue of one voice.
"""

from __future__ import annotations

import numpy as np

SPEC_TIME_WIDTH = 8  # a time mask covers up to this many frames (160 ms of 49 frames)
SPEC_COEFF_WIDTH = 2  # a coefficient mask up to this many of the 10 MFCC coefficients


def spec_augment(xb: np.ndarray, masks: int, fill: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``masks`` time masks (≤ SPEC_TIME_WIDTH frames) and coefficient masks (≤ SPEC_COEFF_WIDTH) per sample."""
    n, frames, coeffs = xb.shape[:3]
    xb = xb.copy()
    t_idx, c_idx = np.arange(frames), np.arange(coeffs)
    for _ in range(masks):
        for size, width, idx, axis in ((frames, SPEC_TIME_WIDTH, t_idx, 1), (coeffs, SPEC_COEFF_WIDTH, c_idx, 2)):
            w = rng.integers(0, width + 1, size=n)
            start = rng.integers(0, size - w + 1)
            hit = (idx[None, :] >= start[:, None]) & (idx[None, :] < (start + w)[:, None])  # (n, size)
            shape = (n, size, 1, 1) if axis == 1 else (n, 1, size, 1)
            xb = np.where(hit.reshape(shape), fill[None, None], xb)  # fill: (coeffs, 1) → (1, 1, coeffs, 1)
    return xb
