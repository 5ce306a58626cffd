"""Timings that repeat: each cost measured several times and reported as the minimum.

Other work on a shared machine can only slow a measurement, never speed it up, so the minimum of
several runs is the best estimate of the cost itself (timeit's convention), and
``spread = max / min − 1`` says how noisy the machine was while measuring. Wall-clock time is
what the tutorial measured; process CPU time (every thread of this process) is kept beside it:
it does not count time spent waiting for a core.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
TIME_DIR = "time"  # metrics/time/: every wall-clock figure, apart from the metrics that must not move


def time_metrics_path(metrics_path: str | Path, stage: str) -> Path:
    """Where a stage's timings go beside its metrics: ``metrics/x.json`` → ``metrics/time/<stage>.json``."""
    return Path(metrics_path).parent / TIME_DIR / f"{stage}.json"


@dataclass
class Timing:
    """Repeated measurements of one cost, in seconds."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def measure(self, fn: Callable[[], T], scale: float = 1.0) -> T:
        """Run ``fn`` once, add its wall and CPU time, return its result.

        ``scale``: ``fn`` does 1 / ``scale`` of the work whose cost is wanted (a cost linear in its
        size, measured on a part of it), so the times added are ``scale`` × the measured ones.
        """
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = fn()
        self.wall.append((time.perf_counter() - wall0) * scale)
        self.cpu.append((time.process_time() - cpu0) * scale)
        return result

    @property
    def seconds(self) -> float:
        """The cost: the minimum wall-clock time."""
        return min(self.wall)

    @property
    def cpu_seconds(self) -> float:
        return min(self.cpu)

    @property
    def spread(self) -> float:
        return max(self.wall) / min(self.wall) - 1 if min(self.wall) > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "seconds": round(self.seconds, 6),
            "cpu_seconds": round(self.cpu_seconds, 6),
            "spread": round(self.spread, 4),
            "repeats": len(self.wall),
            "wall": [round(t, 6) for t in self.wall],
            "cpu": [round(t, 6) for t in self.cpu],
        }
