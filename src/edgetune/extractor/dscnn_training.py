"""What the DS-CNN-edge trains on and how it shows progress: augmented batches, distillation, the epoch bar.

Split from :mod:`edgetune.extractor.dscnn` (the model and its quantization recipe) so each stays one concept:
this module is the training loop's inputs and wrappers, seeded so the same params give the same bytes.
Call :func:`edgetune.logs.import_tensorflow_quietly` before importing this module.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tqdm import tqdm

from edgetune.extractor.mfcc_augment import spec_augment


class EpochBar(keras.callbacks.Callback):
    """One tqdm bar per training, one tick per epoch, loss/accuracy as postfix.

    Keras's own progress bar writes a line per batch update into DVC's log, and tqdm's
    TqdmCallback subclasses Keras 3's Callback, not the tf_keras one these models need.
    """

    def __init__(self, desc: str, epochs: int):
        super().__init__()
        self.desc, self.epochs = desc, epochs

    def on_train_begin(self, logs=None):
        self.bar = tqdm(total=self.epochs, desc=self.desc, unit="epoch", leave=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


class AugmentedBatches(keras.utils.Sequence):
    """Shuffled training batches, each MFCC shifted in time and with added noise, from a seeded generator.

    The validation voices are never seen in training (split by speaker), and the float model
    overfits the training voices (train 93 %, val 60 % after 12 epochs, measured). A shift of
    up to ``max_shift`` frames (the word starts earlier or later) and Gaussian noise of
    ``noise`` uint8 levels raised validation accuracy to 66 % (measured; stronger augmentation
    or L2 did worse). Written here rather than with Keras's random layers because those would
    have to be removed before ``cnn2snn.quantize``, and a numpy generator seeded per phase
    keeps the batches — hence the ``.fbz`` — byte-identical.

    ``specaugment`` > 0 adds SpecAugment (Park et al. 2019) on the MFCC: that many time masks and
    as many coefficient masks per sample, filled with the coefficient's training mean. Its draws
    come from a stream of their own, so with 0 the batches are exactly the ones without it.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, max_shift: int, noise: float,
                 seed: tuple[int, ...], specaugment: int = 0):
        super().__init__()
        self.x, self.y, self.batch_size, self.max_shift, self.noise = x, y, batch_size, max_shift, noise
        self.specaugment = specaugment
        if specaugment:
            self.fill = np.round(x.mean(axis=(0, 1), dtype=np.float64)).astype(np.uint8)  # (coeffs, 1)
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def on_epoch_end(self) -> None:
        n = len(self.x)
        self.order = self.rng.permutation(n)
        self.shifts = self.rng.integers(-self.max_shift, self.max_shift + 1, size=n)
        self.noise_seed = int(self.rng.integers(2**31))

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        frames = self.x.shape[1]
        # Shift along time, repeating the edge frame (the clip's start/end are near-silence).
        t = np.clip(np.arange(frames)[None, :] - self.shifts[idx][:, None], 0, frames - 1)
        xb = self.x[idx[:, None], t]
        if self.noise > 0:
            noise = np.random.default_rng([self.noise_seed, i]).normal(0.0, self.noise, xb.shape)
            xb = np.clip(xb + noise, 0, 255).astype(np.uint8)
        if self.specaugment:
            xb = spec_augment(xb, self.specaugment, self.fill, np.random.default_rng([self.noise_seed, i, 3]))
        return xb, self.y[idx]


class Distilled(keras.Model):
    """Trains ``student`` on (1 − α) × cross-entropy with the labels + α × cross-entropy with
    ``teacher``'s softmax on the same augmented batch (Hinton et al. 2015, temperature 1)."""

    def __init__(self, student: keras.Model, teacher: keras.Model, alpha: float):
        super().__init__()
        self.student, self.teacher, self.alpha = student, teacher, alpha
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def call(self, x, training=False):
        return self.student(x, training=training)

    @property
    def metrics(self):
        return [self.accuracy]

    def train_step(self, data):
        x, y = data
        soft = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            pred = self.student(x, training=True)
            loss = tf.reduce_mean((1.0 - self.alpha) * keras.losses.sparse_categorical_crossentropy(y, pred)
                                  + self.alpha * keras.losses.categorical_crossentropy(soft, pred))
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.accuracy.update_state(y, pred)
        return {"loss": loss, "accuracy": self.accuracy.result()}
