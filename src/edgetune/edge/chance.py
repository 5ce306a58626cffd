"""Is an edge layer's accuracy near chance? Then its spikes carry (almost) no class information.

A user's extractor whose spikes say nothing about the class (a random 64-wide ``.fbz`` gave 5 %
on 33 classes, chance 3 %) still runs every stage to the end; the numbers it yields are noise.
The yardstick is the share of the way from chance (1 / classes) to perfect that the accuracy
covers — Cohen's kappa for balanced classes: under :data:`MIN_LIFT` (a tenth of the way) the
accuracy is called near chance. 33 classes: below 12.7 %; 4 classes: below 32.5 %.
"""

from __future__ import annotations

MIN_LIFT = 0.1


def chance_level(num_classes: int) -> float:
    return 1.0 / num_classes


def near_chance(accuracy: float, num_classes: int) -> bool:
    chance = chance_level(num_classes)
    return (accuracy - chance) / (1.0 - chance) < MIN_LIFT


def warning(accuracy: float, num_classes: int, what: str = "the edge layer's best validation accuracy") -> str | None:
    """One sentence when ``accuracy`` is near chance, else None."""
    if not near_chance(accuracy, num_classes):
        return None
    return (f"{what}, {100 * accuracy:.1f} %, is near chance ({100 * chance_level(num_classes):.1f} % for "
            f"{num_classes} classes): the extractor's spikes carry little or no class information, so the "
            "learning parameters found here mean little — check the extractor (its own accuracy, its spikes "
            "per class) before tuning the edge layer")
