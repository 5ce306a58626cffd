import akida
import numpy as np

from akida_fixtures import make_tiny_extractor


def test_tiny_extractor_gives_live_binary_spikes_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (120, 49, 10, 1)).astype(np.uint8)
    make_tiny_extractor(tmp_path / "x.fbz", x, width=16)
    model = akida.Model(str(tmp_path / "x.fbz"))
    spikes = model.forward(x)
    assert spikes.shape == (120, 1, 1, 16)
    assert set(np.unique(spikes).tolist()) == {0, 1}
    rate = spikes.reshape(120, 16).mean(axis=0)
    assert ((rate > 0.1) & (rate < 0.7)).mean() > 0.8
