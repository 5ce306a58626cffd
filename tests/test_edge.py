"""The edge layer on the real akida engine: seeding, and numpy scoring equal to the engine's."""

import numpy as np
import pytest

from edgetune.edge import layer as edge
from edgetune.errors import EdgetuneError


def clustered_spikes(rng, num_classes=3, per_class=60, width=64, active=16, flip=0.05):
    """Each class is a few prototypes of ``active`` ones; samples are prototypes with bits flipped."""
    xs, ys = [], []
    for c in range(num_classes):
        protos = np.zeros((2, width), np.uint8)
        for p in protos:
            p[rng.choice(width, active, replace=False)] = 1
        x = protos[rng.integers(0, 2, per_class)]
        x = np.where(rng.random(x.shape) < flip, 1 - x, x).astype(np.uint8)
        xs.append(x)
        ys.append(np.full(per_class, c, np.int32))
    order = rng.permutation(num_classes * per_class)
    return np.concatenate(xs)[order], np.concatenate(ys)[order]


def engine_model(trained: edge.TrainedEdge):
    model = edge.build_model(trained.weights.shape[0], trained.config)
    model.get_layer(edge.LAYER_NAME).set_variable("weights", trained.weights.astype(np.int8).reshape(1, 1, *trained.weights.shape))
    return model


def test_seeded_initial_weights_have_exactly_num_weights_ones_per_neuron():
    w = edge.seeded_initial_weights(width=50, units=7, num_weights=12, seed=3)
    assert w.shape == (1, 1, 50, 7) and w.dtype == np.int8
    assert (w.sum(axis=(0, 1, 2)) == 12).all()
    assert np.array_equal(w, edge.seeded_initial_weights(50, 7, 12, seed=3))
    assert not np.array_equal(w, edge.seeded_initial_weights(50, 7, 12, seed=4))


def test_same_seed_learns_the_same_weights_and_other_seed_differs():
    rng = np.random.default_rng(0)
    x, y = clustered_spikes(rng)
    cfg = edge.EdgeConfig(num_classes=3, neurons_per_class=4, num_weights=18, seed=7)
    a, b = edge.train(x, y, cfg), edge.train(x, y, cfg)
    c = edge.train(x, y, edge.EdgeConfig(3, 4, 18, seed=8))
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.learned, b.learned)
    assert not np.array_equal(a.weights, c.weights)
    # 60 samples per class (2 prototypes each) for 4 neurons per class: all 12 neurons learn
    assert a.num_learned == 12 and a.learned.all()
    assert edge.accuracy(x, y, a) == 1.0  # 5 % of bits flipped leaves each sample nearest its own class


def test_numpy_scoring_equals_the_fitted_engine_and_predict_classes_with_ties(monkeypatch):
    rng = np.random.default_rng(1)
    x, y = clustered_spikes(rng, num_classes=4, per_class=40, width=32, active=8, flip=0.1)
    fitted = []  # the engine model edge.train fits: compared as it is, not rebuilt from its weights
    build = edge.build_model
    monkeypatch.setattr(edge, "build_model", lambda *args: fitted.append(build(*args)) or fitted[-1])
    trained = edge.train(x, y, edge.EdgeConfig(num_classes=4, neurons_per_class=3, num_weights=9, seed=0))
    (model,) = fitted
    # samples that tie: all-zero input (every class at 0), and the union of two neurons' weights of
    # classes 1..3 (both reach num_weights): ties where the first class is not among the tied
    w = trained.weights.T  # (units, D), neurons of class c at c*3 .. c*3+2
    unions = [w[a] | w[b] for a in range(3, 12) for b in range(a + 3 - a % 3, 12)]
    probe = np.concatenate([x, np.zeros((5, 32), np.uint8), np.array(unions, np.uint8)])
    engine_pot = model.forward(probe.reshape(len(probe), 1, 1, -1)).reshape(len(probe), -1)
    numpy_pot = np.concatenate([p for _, p in edge.iter_potentials(probe, trained.weights, batch_size=17)])
    assert np.array_equal(engine_pot, numpy_pot)
    engine_pred = model.predict_classes(probe.reshape(len(probe), 1, 1, -1), num_classes=4)
    ours = edge.predict_classes(probe, trained, batch_size=17)
    cmax = edge.class_max_potentials(probe, trained)
    tied = cmax == cmax.max(axis=1, keepdims=True)
    assert (tied.sum(axis=1) == 4).sum() >= 5  # the zero inputs tie across all classes
    later = (tied.sum(axis=1) > 1) & ~tied[:, 0]
    assert later.sum() >= 5, "no tie between classes after the first"
    assert set(engine_pred[later]) - {0} and 0 not in set(engine_pred[later])
    assert np.array_equal(engine_pred, ours)
    assert np.array_equal(ours[later], tied[later].argmax(axis=1))  # the first of the tied classes
    expected_acc = float((engine_pred[: len(y)] == y).mean())
    assert edge.accuracy(x, y, trained) == pytest.approx(expected_acc)


def test_learned_neurons_come_from_threshold_learning():
    rng = np.random.default_rng(2)
    x, y = clustered_spikes(rng, num_classes=2, per_class=30)
    trained = edge.train(x, y, edge.EdgeConfig(num_classes=2, neurons_per_class=50, num_weights=16))
    # 2 prototypes per class, 30 samples: far fewer neurons than 100 learn. Which ones is the engine's
    # threshold learning on these fixed samples and the seed-0 initial weights: 8 of class 0's 50, 6 of class 1's
    assert trained.learned.shape == (100,)
    assert np.flatnonzero(trained.learned).tolist() == [0, 5, 12, 19, 25, 40, 45, 46, 60, 69, 73, 78, 80, 87]
    assert trained.num_learned == 14


@pytest.mark.parametrize(
    "x, y, cfg, message",
    [
        (np.full((4, 8), 2), np.zeros(4, np.int32), edge.EdgeConfig(2, 2, 3), "values span 2..2; an edge layer takes 0/1 spikes"),
        (np.zeros((4, 3, 8)), np.zeros(4, np.int32), edge.EdgeConfig(2, 2, 3), "expected (N, D)"),
        (np.zeros((4, 8)), np.array([0, 1, 2, 0]), edge.EdgeConfig(2, 2, 3), "labels span 0..2"),
        (np.zeros((4, 8)), np.zeros(3, np.int32), edge.EdgeConfig(2, 2, 3), "one label per spike sample"),
        (np.zeros((4, 8)), np.zeros(4, np.int32), edge.EdgeConfig(2, 2, 9), "num_weights = 9: must be between 1 and the spike width 8"),
        (np.zeros((4, 8)), np.zeros(4, np.int32), edge.EdgeConfig(2, 0, 3), "neurons_per_class = 0"),
    ],
)
def test_bad_inputs_give_clear_errors(x, y, cfg, message):
    with pytest.raises(EdgetuneError) as info:
        edge.train(x, y, cfg)
    assert message in str(info.value)


def test_warns_when_a_class_has_fewer_samples_than_neurons(caplog):
    y = np.array([0] * 10 + [1] * 3, np.int32)
    short = edge.warn_if_too_many_neurons(y, edge.EdgeConfig(2, 5, 3), classes=["six", "yes"])
    assert short == [1]
    assert "yes" in caplog.text and "cannot learn" in caplog.text


def test_load_num_weights_reads_the_weights_stage_metrics(tmp_path):
    path = tmp_path / "weights.json"
    with pytest.raises(EdgetuneError, match="dvc repro weights"):
        edge.load_num_weights(path)
    path.write_text('{"num_weights": 85, "median_spikes": 71.0}')
    assert edge.load_num_weights(path) == 85
    path.write_text('{"num_weights": 0}')
    with pytest.raises(EdgetuneError, match="expected a positive integer"):
        edge.load_num_weights(path)
    path.write_text("not json")
    with pytest.raises(EdgetuneError, match="no integer 'num_weights'"):
        edge.load_num_weights(path)


def test_scoring_blocks_are_bounded_by_potentials_and_stay_exact(monkeypatch):
    assert edge.rows_per_block(9900) * 9900 <= edge.BLOCK_POTENTIALS
    assert edge.rows_per_block(330, batch_size=100) == 100
    assert edge.rows_per_block(10**9) == 1
    rng = np.random.default_rng(4)
    x, y = clustered_spikes(rng, num_classes=3, per_class=30, width=40, active=10)
    trained = edge.train(x, y, edge.EdgeConfig(num_classes=3, neurons_per_class=4, num_weights=10))
    exact = (x.astype(np.int64) @ trained.weights.astype(np.int64)).reshape(len(x), 3, 4).max(axis=2)
    monkeypatch.setattr(edge, "BLOCK_POTENTIALS", 12 * 7)  # 7 samples per block: 13 blocks, the last partial
    assert edge.rows_per_block(12) == 7
    assert np.array_equal(edge.class_max_potentials(x, trained), exact)
    blocks = list(edge.iter_potentials(x, trained.weights))
    assert [start for start, _ in blocks] == list(range(0, 90, 7))
    assert np.array_equal(np.concatenate([p for _, p in blocks]), x.astype(np.int64) @ trained.weights)


def test_fitting_in_chunks_learns_the_same_weights_as_one_fit():
    rng = np.random.default_rng(5)
    x, y = clustered_spikes(rng, num_classes=3, per_class=50)
    cfg = edge.EdgeConfig(num_classes=3, neurons_per_class=4, num_weights=16, seed=2)
    one = edge.build_model(x.shape[1], cfg)
    one.fit(x.reshape(len(x), 1, 1, -1), y)
    chunked = edge.build_model(x.shape[1], cfg)
    edge.fit_in_chunks(chunked, x.reshape(len(x), 1, 1, -1), y, cfg.units, max_potentials=7 * cfg.units)
    a, b = edge.trained_from_model(one, cfg), edge.trained_from_model(chunked, cfg)
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.learned, b.learned)
    assert a.num_learned >= 3
