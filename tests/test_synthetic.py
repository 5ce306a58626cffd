"""Planning of the synthetic dataset (voice split, clip shares), augmentation, engine checks."""

import json
from pathlib import Path

import numpy as np
import pytest

from edgetune.data import augment, synthetic, tts
from edgetune.errors import EdgetuneError
from edgetune.params import DataParams, load_params


@pytest.mark.parametrize("engines", [["espeak", "flite", "festival"], ["flite", "festival"], ["festival"]])
@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.9])
def test_voice_split_holds_out_whole_persons_and_keeps_every_engine_in_train(engines, fraction):
    for seed in range(5):
        pools = synthetic.split_voices(engines, fraction, seed)
        train = {v.speaker for v in pools["train"]}
        val = {v.speaker for v in pools["val"]}
        assert not train & val  # e.g. flite slt and festival's slt HTS voice are one person
        for engine in engines:
            assert any(v.engine == engine for v in pools["train"])
            if len(tts.voices(engine)) >= 2:
                assert any(v.engine == engine for v in pools["val"])


def test_espeak_holds_out_about_the_fraction_and_seed_changes_the_split():
    a = synthetic.split_voices(["espeak"], 0.2, 0)
    b = synthetic.split_voices(["espeak"], 0.2, 1)
    assert len(a["val"]) == round(0.2 * len(tts.voices("espeak")))
    assert {v.name for v in a["val"]} != {v.name for v in b["val"]}


def test_plan_gives_every_class_both_splits_and_shares_clips_between_engines():
    params = DataParams(words=["yes", "no", "cat"], clips_per_word=30, val_voice_fraction=0.2)
    plan = synthetic.plan(params)
    assert plan.classes == ["_silence_", "cat", "no", "yes"]
    for label, name in enumerate(plan.classes):
        for split, expected in (("train", 24), ("val", 6)):
            clips = [c for c in plan.clips if c.label == label and c.split == split]
            assert len(clips) == expected
            if name == "_silence_":
                assert all(c.voice is None for c in clips)
            else:
                per_engine = [sum(c.engine == e for c in clips) for e in params.engines]
                assert max(per_engine) - min(per_engine) <= 1
    for split in ("train", "val"):  # positions are 0..n-1 in each split
        assert sorted(c.position for c in plan.clips if c.split == split) == list(range(4 * (24 if split == "train" else 6)))
    val_speakers = {c.voice.speaker for c in plan.clips if c.split == "val" and c.voice}
    train_speakers = {c.voice.speaker for c in plan.clips if c.split == "train" and c.voice}
    assert val_speakers and not val_speakers & train_speakers


@pytest.mark.parametrize("clips, fraction, val", [(2, 0.9, 1), (2, 0.1, 1), (10, 0.5, 5), (7, 0.2, 1)])
def test_every_class_keeps_at_least_one_clip_in_each_split(clips, fraction, val):
    plan = synthetic.plan(DataParams(words=["six"], clips_per_word=clips, val_voice_fraction=fraction))
    for label in (0, 1):
        assert sum(c.label == label and c.split == "val" for c in plan.clips) == val
        assert sum(c.label == label and c.split == "train" for c in plan.clips) == clips - val


def test_chunks_do_not_depend_on_anything_but_the_clips_and_keep_one_engine_each():
    plan = synthetic.plan(DataParams(words=["yes", "no"], clips_per_word=100))
    work = synthetic.chunks(plan.clips)
    assert sorted((c.split, c.position) for chunk in work for c in chunk) == sorted(
        (c.split, c.position) for c in plan.clips)
    assert all(len({c.engine for c in chunk}) == 1 and len(chunk) <= synthetic.CHUNK_SIZE for chunk in work)
    assert work == synthetic.chunks(list(reversed(plan.clips)))


def test_keyword_clip_is_one_second_placed_noisy_and_seeded():
    speech = tts.EspeakEngine().say("seven", "en-us", "m1", 170, 50, 50, noise_seed=0)
    a = augment.keyword_clip(np.random.default_rng(5), speech, 22050)
    b = augment.keyword_clip(np.random.default_rng(5), speech, 22050)
    c = augment.keyword_clip(np.random.default_rng(6), speech, 22050)
    assert a.shape == (16000,) and a.dtype == np.float32 and np.abs(a).max() <= 1.0
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(np.abs(a.reshape(50, 320)).max(axis=1) > 0)  # noise everywhere, no digital silence
    stands_out = 0
    for seed in range(10):  # SNR is drawn from 0–35 dB: in most clips the word stands out of the noise
        clip = augment.keyword_clip(np.random.default_rng(seed), speech, 22050)
        frames = np.sqrt(np.mean(clip.reshape(50, 320).astype(np.float64) ** 2, axis=1))
        stands_out += frames.max() > 3 * np.median(frames)
    assert 6 <= stands_out <= 10


def test_silence_clip_is_noise_only():
    clip = augment.silence_clip(np.random.default_rng(0))
    frames = np.sqrt(np.mean(clip.reshape(50, 320).astype(np.float64) ** 2, axis=1))
    assert clip.shape == (16000,) and np.all(frames > 0)
    assert frames.max() < 4 * np.median(frames)  # stationary: nothing stands out


def test_trim_drops_leading_and_trailing_quiet_audio():
    audio = np.concatenate([np.zeros(1000), np.ones(500), np.zeros(1000)])
    assert len(augment.trim(audio, 16000)) == 640  # whole 10 ms frames around the 500 loud samples


def test_missing_engine_fails_with_the_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no festival on PATH
    with pytest.raises(EdgetuneError, match=r"festival is not installed.*apt-get install festival festvox-kallpc16k"):
        tts.check_engines(["festival"])


def test_engines_report_versions():
    versions = tts.check_engines(["espeak", "flite", "festival"])
    assert versions["espeak"].startswith("espeak-ng ") and "flite" in versions["flite"]
    assert "2." in versions["festival"]


def test_the_committed_default_holds_out_whole_voices():
    """The real default dataset: its plan (what fetch writes as speaker_train/val) and the committed
    metrics/data.json, counted from the arrays of the dataset `dvc repro` made, share no voice."""
    repo = Path(__file__).resolve().parents[1]
    params = load_params(repo / "params.yaml").data
    plan = synthetic.plan(params)
    speakers = {s: {c.voice.speaker for c in plan.clips if c.split == s and c.voice} for s in ("train", "val")}
    assert speakers["train"] and speakers["val"] and not speakers["train"] & speakers["val"]
    assert all(c.warp == 1.0 for c in plan.clips if c.split == "val")  # nothing derived from a val voice is altered
    metrics = json.loads((repo / "metrics/data.json").read_text())
    assert metrics["voices_shared"] == 0
    assert metrics["voices"] == {"train": len(speakers["train"]), "val": len(speakers["val"])}
