"""The knee of a sweep curve, found by kneedle (the ``kneed`` library) on a log10 x axis.

The tutorial reads the "point of inflection" off its plots by eye. Kneedle makes that
repeatable: normalise the curve, take its difference from the chord joining the ends, and call
a local maximum of that difference a knee when the curve flattens after it.

One adaptation, on top of ``kneed``: curves of learned neurons follow ``learned ≈ n`` before they
saturate, which on a log axis bends the *other* way first (convex, then concave). Offline
``kneed`` stops at its first candidate, which on such a curve is the first point — where the
difference is 0 by construction, so it is no knee at all. We therefore let ``kneed`` list every
candidate (``online=True``) and keep the most pronounced one: the largest difference from the
chord, which is Kneedle's own definition of maximum curvature. A curve whose candidates all sit
on or below the chord has no knee, and we say so rather than invent one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from kneed import KneeLocator


@dataclass(frozen=True)
class Knee:
    """Where a curve bends (``value`` on the original x axis), or why it has no knee (``reason``)."""

    value: int | None
    y: float | None
    reason: str | None = None

    @property
    def found(self) -> bool:
        return self.value is not None


def find_knee(
    values,
    y,
    curve: Literal["convex", "concave"],
    direction: Literal["increasing", "decreasing"],
    sensitivity: float = 1.0,
) -> Knee:
    """Knee of ``y`` against ``values`` (positive, increasing), found on log10(values)."""
    values = np.asarray(values, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(values) < 3:
        return Knee(None, None, f"needs at least 3 neurons_per_class values to find a knee, got {len(values)}")
    if not np.all(np.isfinite(y)):
        return Knee(None, None, "the curve has missing values")
    if np.ptp(y) == 0:
        return Knee(None, None, f"flat curve (every value gives {y[0]:g}): nothing bends")
    lx = np.log10(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kneed warns "No knee/elbow found"; we report a reason instead
        locator = KneeLocator(lx, y, S=sensitivity, curve=curve, direction=direction, online=True)
    best, best_diff = None, 0.0
    for knee_x, norm_x in zip(locator.all_knees, locator.all_norm_knees):
        diff = float(locator.y_difference[np.flatnonzero(locator.x_difference == norm_x)[0]])
        if diff > best_diff:
            best, best_diff = knee_x, diff
    if best is None:
        if not locator.all_knees:
            why = f"kneedle found no bend above its threshold (S={sensitivity:g})"
        else:
            why = "kneedle's only candidates lie on the chord between the ends (no bend inside the range)"
        return Knee(None, None, f"no knee: {why}; the {curve} {direction} curve may not flatten within the swept values")
    i = int(np.flatnonzero(lx == best)[0])
    return Knee(int(round(values[i])), float(y[i]))
