"""The few-shot arms beside new words for unseen voices: the tutorial's own test, and a control.

- **personal** — BrainChip's KWS edge-learning example (its "19/19") is a one-speaker test: a few
  utterances of one person per new word, each augmented (time shift and background noise), learned
  in one ``fit``, then scored on that person's other clips. Here: every held-out person of the new
  words with enough clips is that person in turn; ``personal_utterances`` clips per word, each
  augmented ``personal_augment`` times on its MFCC (a shift of up to ``SHIFT`` frames and Gaussian
  noise of ``NOISE`` uint8 levels, the extractor's own training augmentation), are learned; the
  person's other clips of the new words are scored over all classes.
- **heard** — the same add-and-learn, for words the extractor *was* trained on: they are left out
  of the layer (trained on the other classes), then added from k shots of their training samples.
  If they reach far more than the new words do, the extractor's features are what limits the new
  words, not edge learning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgetune import stats
from edgetune.edge import layer as edge, table_train
from edgetune.edge.spikefile import SpikeSet
from edgetune.errors import EdgetuneError

PERSONAL_STREAM, AUGMENT_STREAM = 4, 5  # seed components apart from the unseen-voices arm's
SHIFT, NOISE = 4, 12.0
NEW_NEURONS_STREAM = 3
FIGURES = ("new_accuracy", "old_accuracy", "old_accuracy_before", "old_loss", "old_predictions_kept",
           "new_as_old", "old_as_new")


def train_base(config: edge.EdgeConfig, old: SpikeSet, workdir: Path) -> tuple[Path, np.ndarray]:
    """The old classes' layer as the table trains it (same order, same seeded weights), saved; its predictions."""
    x, y = table_train.shuffled(old, config.seed)
    base = edge.build_model(old.width, config)
    edge.fit_in_chunks(base, x.reshape(len(x), 1, 1, -1), y, config.units)
    base_file = workdir / f"base-{config.seed}-{config.neurons_per_class}-{old.num_classes}.fbz"
    base.save(str(base_file))
    return base_file, predict(base, old.x_val, old.num_classes)


def with_new_classes(base_file: Path, config: edge.EdgeConfig, n_new: int):
    """A copy of the trained layer with ``n_new`` classes added after the old ones, new neurons seeded."""
    import akida

    model = akida.Model(str(base_file))
    model.add_classes(n_new)
    layer = model.get_layer(edge.LAYER_NAME)
    weights = layer.get_variable("weights").copy()
    width, old_units = weights.shape[2], config.units
    weights[..., old_units:] = edge.seeded_initial_weights(width, n_new * config.neurons_per_class,
                                                           config.num_weights, [config.seed, NEW_NEURONS_STREAM])
    layer.set_variable("weights", weights)
    return model


def predict(model, x: np.ndarray, num_classes: int) -> np.ndarray:
    return np.asarray(model.predict_classes(x.reshape(len(x), 1, 1, -1), num_classes=num_classes), np.int32)


def learn_and_score(base: tuple[Path, np.ndarray], config: edge.EdgeConfig, old: SpikeSet, fit: tuple,
                    test: tuple, n_new: int) -> dict:
    """``add_classes(n_new)`` on a copy of the base layer, one ``fit`` on ``fit`` = (x, y), scored on
    ``test`` = (x, y) (new labels 0..n_new-1) and on the old classes' validation samples."""
    (base_file, before), total = base, old.num_classes + n_new
    model = with_new_classes(base_file, config, n_new)
    model.fit(fit[0].reshape(len(fit[0]), 1, 1, -1), fit[1] + old.num_classes)
    after, on_new = predict(model, old.x_val, total), predict(model, test[0], total)
    learned = model.get_layer(edge.LAYER_NAME).get_variable("threshold_learning").reshape(-1)[config.units:] > 0
    row = {
        "new_accuracy": float(np.mean(on_new == test[1] + old.num_classes)),
        "new_per_word": [float(np.mean(on_new[test[1] == w] == w + old.num_classes)) for w in range(n_new)],
        "old_accuracy_before": float(np.mean(before == old.y_val)),
        "old_accuracy": float(np.mean(after == old.y_val)),
        "old_predictions_kept": float(np.mean(after == before)),
        "new_as_old": float(np.mean(on_new < old.num_classes)),
        "old_as_new": float(np.mean(after >= old.num_classes)),
        "new_learned_neurons": int(learned.sum()),
    }
    row["old_loss"] = row["old_accuracy_before"] - row["old_accuracy"]
    return row


def summary(runs: list[dict]) -> dict:
    """Every figure as mean ± 95 % t-interval over ``runs``."""
    return {f: stats.estimate([r[f] for r in runs]).as_dict() for f in FIGURES}


# ------------------------------------------------------------------------------------- personal
def personal_persons(speakers: np.ndarray | None, y: np.ndarray, n_words: int, need: int) -> list[str]:
    """Held-out persons with at least ``need`` validation clips of every new word, sorted."""
    if speakers is None:
        return []
    speakers = np.asarray(speakers).astype(str)
    return [p for p in sorted(set(speakers.tolist()) - {""})
            if all(np.sum((speakers == p) & (y == w)) >= need for w in range(n_words))]


def enrol(speakers: np.ndarray, y: np.ndarray, person: str, person_index: int, n_words: int, utterances: int,
          seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The person's enrolment clips (``utterances`` per word, seeded) and the rest, their test clips."""
    is_mine = np.asarray(speakers).astype(str) == person
    picked = []
    for w in range(n_words):
        own = np.flatnonzero(is_mine & (y == w))
        picked.append(own[np.random.default_rng([seed, PERSONAL_STREAM, person_index, w]).permutation(len(own))
                          [:utterances]])
    enrolled = np.concatenate(picked)
    return enrolled, np.setdiff1d(np.flatnonzero(is_mine), enrolled)


def augment(x: np.ndarray, copies: int, seed: tuple[int, ...]) -> np.ndarray:
    """``copies`` versions of each uint8 MFCC clip: shifted in time (edge frame repeated) and noisy."""
    rng = np.random.default_rng(seed)
    x = np.repeat(x, copies, axis=0)
    frames = x.shape[1]
    shifts = rng.integers(-SHIFT, SHIFT + 1, size=len(x))
    t = np.clip(np.arange(frames)[None, :] - shifts[:, None], 0, frames - 1)
    shifted = x[np.arange(len(x))[:, None], t]
    return np.clip(shifted + rng.normal(0.0, NOISE, shifted.shape), 0, 255).astype(np.uint8)


def personal_sets(speakers: np.ndarray, y_val: np.ndarray, x_val: np.ndarray, persons: list[str], utterances: int,
                  copies: int, seed: int, forward) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Per person: the augmented enrolment clips' spikes (forwarded in one call), their labels, the test indices."""
    n_new = int(y_val.max()) + 1
    picks = [enrol(speakers, y_val, person, i, n_new, utterances, seed) for i, person in enumerate(persons)]
    augmented = [augment(x_val[enrolled], copies, (seed, AUGMENT_STREAM, i)) for i, (enrolled, _) in enumerate(picks)]
    spikes = np.split(forward(np.concatenate(augmented)), np.cumsum([len(a) for a in augmented])[:-1])
    sets = []
    for i, (person, (enrolled, tested), x_fit) in enumerate(zip(persons, picks, spikes)):
        y_fit = np.repeat(y_val[enrolled], copies)
        order = np.random.default_rng([seed, AUGMENT_STREAM, i, 1]).permutation(len(y_fit))
        sets.append((person, x_fit[order], y_fit[order], tested))
    return sets


def personal_runs(base, config: edge.EdgeConfig, old: SpikeSet, sets: list, new_val_spikes: np.ndarray,
                  y_val: np.ndarray) -> list[dict]:
    """One run per person: its enrolment learned in one fit, its other clips scored."""
    n_new = int(y_val.max()) + 1
    return [{"seed": config.seed, "person": person, "test_clips": int(len(tested)),
             **learn_and_score(base, config, old, (x_fit, y_fit), (new_val_spikes[tested], y_val[tested]), n_new)}
            for person, x_fit, y_fit, tested in sets]


def personal_summary(runs: list[dict]) -> dict:
    persons = sorted({r["person"] for r in runs})
    return {**summary(runs), "persons": {p: stats.estimate([r["new_accuracy"] for r in runs if r["person"] == p])
                                         .as_dict() for p in persons}}


# ---------------------------------------------------------------------------------------- heard
def heard_split(old: SpikeSet, words: list[str], origin: Path) -> tuple[SpikeSet, SpikeSet]:
    """The old classes without ``words`` (relabelled in order) and ``words`` alone (labels 0..n-1)."""
    known = old.classes.tolist()
    for word in words:
        if word not in known:
            raise EdgetuneError(f"fewshot.heard_words: {word!r} is not a class of {origin} ({len(known)} classes); "
                                "name classes of the dataset, or set fewshot.heard_words: [] to skip the control")
    heard = np.array([known.index(w) for w in words])
    rest = np.array([i for i in range(len(known)) if i not in heard])
    remap = np.full(len(known), -1, np.int32)
    remap[rest], remap[heard] = np.arange(len(rest)), np.arange(len(heard))

    def part(keep: np.ndarray, names: np.ndarray) -> SpikeSet:
        tr, va = np.isin(old.y_train, keep), np.isin(old.y_val, keep)
        return SpikeSet(old.x_train[tr], remap[old.y_train[tr]], old.x_val[va], remap[old.y_val[va]], names)

    return part(rest, old.classes[rest]), part(heard, old.classes[heard])
