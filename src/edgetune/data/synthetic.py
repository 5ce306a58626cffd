"""The offline KWS dataset: real TTS engines speak the keywords, augmented, split by voice.

Plan first, then synthesise:

1. **Voices split.** Speakers (persons, see :mod:`edgetune.data.tts`) are shuffled with the seed;
   each engine holds out ``val_voice_fraction`` of its voices (at least one when it has two or
   more) for validation, and keeps at least one for training. No person is in both splits.
2. **Clips planned.** Each word gets ``clips_per_word`` clips, ``round(n × fraction)`` in val (at
   least one in each split), shared equally between the engines with voices in that split; each
   engine cycles through its voices in a shuffled order, so even tiny datasets use every engine
   and voice. ``_silence_`` (label 0) gets as many clips, noise only.
3. **Synthesised in chunks.** Clips are grouped by engine (and festival, accented or piper voice) into fixed-size
   chunks; each chunk runs in a fresh worker process (eSpeak NG keeps state between utterances,
   so a fresh process per chunk makes every chunk's audio depend on its clips only), on all
   cores, with a progress bar. Every random draw of a clip comes from its own seed
   ``(seed, word, split, clip)``: the output is byte-identical for the same params, whatever
   the number of workers.
4. **Features.** TF speech_commands MFCC (:mod:`edgetune.data.mfcc`), then uint8 with a
   per-coefficient range fixed from the training set and stored in ``meta``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from dataclasses import dataclass, field
from itertools import groupby

import numpy as np
import tqdm

from edgetune.data import augment, festival_engine, mfcc, tts
from edgetune.dataset import KwsDataset
from edgetune.params import DataParams
from edgetune.vocabulary import ALL_ENGINES, SILENCE, SPEECH_COMMANDS_WORDS

log = logging.getLogger(__name__)

CHUNK_SIZE = 64
SPLITS = ("train", "val")
_SILENCE_ID = len(SPEECH_COMMANDS_WORDS)  # seed component of the silence class
_SPLIT_STREAM = 7919  # seed component of the voice split (any constant apart from word ids)
JOINT_SPLIT_ENGINES = ("espeak", "flite", "festival")  # drawn together (flite and festival share persons)

# Per-clip TTS settings, drawn from the clip's generator.
ESPEAK_RATE_WPM = (120, 240)
ESPEAK_PITCH = (15, 85)
ESPEAK_PITCH_RANGE = (10, 90)
FLITE_STRETCH = (0.8, 1.25)
FLITE_F0_HZ = (80.0, 220.0)
FESTIVAL_STRETCH = (0.8, 1.25)
PIPER_LENGTH = (0.8, 1.25)
PIPER_NOISE = (0.4, 0.9)  # VITS noise_scale: intonation and timbre detail (piper's default 0.667)
PIPER_NOISE_W = (0.5, 1.1)  # noise_w: phoneme durations (default 0.8)


@dataclass(frozen=True)
class ClipSpec:
    """One clip to make: where it goes, who says it, and its seed."""

    split: str
    position: int  # index within its split
    label: int
    word: str  # "" for silence
    voice: tts.Voice | None  # None for silence
    seed: tuple[int, ...]
    warp: float = 1.0  # vocal-tract-length factor (data.voice_perturbation); 1 = the voice as spoken
    snr_db: tuple[float, float] = augment.SNR_DB  # the noise's SNR range (data.train_snr_db / val_snr_db)

    @property
    def engine(self) -> str:
        return self.voice.engine if self.voice else "noise"


@dataclass
class Plan:
    classes: list[str]
    clips: list[ClipSpec]
    speakers: dict[str, list[str]] = field(default_factory=dict)  # split → sorted person ids


def class_names(words: list[str]) -> list[str]:
    """``_silence_`` = 0, then the words alphabetically (the tutorial's label order)."""
    return [SILENCE, *sorted(words)]


def split_voices(engines: list[str], fraction: float, seed: int) -> dict[str, list[tts.Voice]]:
    """Hold out whole persons for val; per engine ~``fraction`` of its voices, ≥ 1 in each split."""
    by_engine = {e: tts.voices(e) for e in engines}
    # An engine added to the first three draws its held-out persons from a stream of its own (a
    # one-voice engine holds none out): adding one leaves the others' held-out persons as they were.
    joint = {e: vs for e, vs in by_engine.items() if e in JOINT_SPLIT_ENGINES}
    held_out = _held_out(joint, fraction, np.random.default_rng([seed, _SPLIT_STREAM]))
    for e in set(by_engine) - set(JOINT_SPLIT_ENGINES):
        stream = [seed, _SPLIT_STREAM + 1 + ALL_ENGINES.index(e)]
        held_out |= _held_out({e: by_engine[e]}, fraction, np.random.default_rng(stream))
    return {
        "train": [v for e in engines for v in by_engine[e] if v.speaker not in held_out],
        "val": [v for e in engines for v in by_engine[e] if v.speaker in held_out],
    }


def _held_out(by_engine: dict[str, list[tts.Voice]], fraction: float, rng: np.random.Generator) -> set[str]:
    """The persons held out of ``by_engine``'s voices, drawn in ``rng``'s order."""
    engines = list(by_engine)
    persons = sorted({v.speaker for vs in by_engine.values() if len(vs) >= 2 for v in vs})
    order = rng.permutation(len(persons))
    wanted = {e: (min(max(1, round(fraction * len(vs))), len(vs) - 1) if len(vs) >= 2 else 0)
              for e, vs in by_engine.items()}
    held_out: set[str] = set()

    def count(engine: str, chosen: set[str]) -> int:
        return sum(v.speaker in chosen for v in by_engine[engine])

    # First pass: persons that do not push any engine past its share (a person can speak in two
    # engines); second pass: whoever is still needed, as long as every engine keeps a training voice.
    for allow_overshoot in (False, True):
        for index in order:
            person = persons[index]
            needed = [e for e in engines if count(e, held_out) < wanted[e]
                      and any(v.speaker == person for v in by_engine[e])]
            trial = held_out | {person}
            if not needed or person in held_out:
                continue
            if not allow_overshoot and any(count(e, trial) > wanted[e] for e in engines):
                continue
            if all(count(e, trial) < len(by_engine[e]) for e in engines):
                held_out = trial
    return held_out


def plan(params: DataParams, classes: list[str] | None = None) -> Plan:
    """The clips of ``classes`` (default: the dataset's, see :func:`class_names`), label = index.

    A clip's seed holds its word's index among the 35 Speech Commands words, so planning other
    classes (the few-shot new words) draws from streams of their own: the dataset's clips do not move.
    """
    classes = class_names(params.words) if classes is None else list(classes)
    pools = split_voices(list(params.engines), params.val_voice_fraction, params.seed)
    n_val = min(max(1, round(params.clips_per_word * params.val_voice_fraction)), params.clips_per_word - 1)
    counts = {"train": params.clips_per_word - n_val, "val": n_val}
    clips: list[ClipSpec] = []
    for split_id, split in enumerate(SPLITS):
        position = 0
        engines = [e for e in params.engines if any(v.engine == e for v in pools[split])]
        for label, word in enumerate(classes):
            word_id = _SILENCE_ID if word == SILENCE else SPEECH_COMMANDS_WORDS.index(word)
            rng = np.random.default_rng([params.seed, word_id, split_id])
            if word == SILENCE:
                assigned = [None] * counts[split]
            else:
                engine_of = [engines[i % len(engines)] for i in rng.permutation(counts[split])]
                cycles = {e: [v for v in pools[split] if v.engine == e] for e in engines}
                cycles = {e: [vs[i] for i in rng.permutation(len(vs))] for e, vs in cycles.items()}
                used = {e: 0 for e in engines}
                assigned = []
                for engine in engine_of:
                    assigned.append(cycles[engine][used[engine] % len(cycles[engine])])
                    used[engine] += 1
            snr_db = tuple(params.val_snr_db if split == "val" else params.train_snr_db)
            for j, voice in enumerate(assigned):
                seed = (params.seed, word_id, split_id, j)
                clips.append(ClipSpec(split, position, label, "" if word == SILENCE else word, voice, seed,
                                      _warp(params.voice_perturbation, split, voice, seed), snr_db))
                position += 1
    speakers = {s: sorted({v.speaker for v in pools[s]}) for s in SPLITS}
    return Plan(classes, clips, speakers)


def _warp(perturbation: float, split: str, voice: tts.Voice | None, seed: tuple[int, ...]) -> float:
    """A training clip's vocal-tract-length factor, uniform in 1 ± ``perturbation`` (stream 3 of its seed).

    Each training utterance then comes from a slightly different vocal tract, made from training
    voices only; validation clips keep their voice as spoken (val measures the real held-out voices).
    """
    if perturbation == 0 or split != "train" or voice is None:
        return 1.0
    return float(np.random.default_rng([*seed, 3]).uniform(1.0 - perturbation, 1.0 + perturbation))


def chunks(clips: list[ClipSpec], size: int = CHUNK_SIZE) -> list[list[ClipSpec]]:
    """Fixed chunks (independent of the worker count), one engine each, festival, accented and piper by voice."""
    def key(c: ClipSpec) -> tuple:
        return (c.engine, c.voice.name if c.engine in ("festival", "accented", "piper") else "", c.split, c.position)

    out = []
    for _, group in groupby(sorted(clips, key=key), key=lambda c: c.engine):
        group = list(group)
        out.extend(group[i : i + size] for i in range(0, len(group), size))
    return out


def _speak_chunk(chunk: list[ClipSpec]) -> list[tuple[np.ndarray, int]]:
    """The clean TTS audio of each clip (native rate); silence → empty."""
    engine = chunk[0].engine
    rngs = [np.random.default_rng(list(c.seed) + [1]) for c in chunk]  # TTS draws: stream 1
    if engine == "noise":
        return [(np.zeros(0, np.float32), mfcc.SAMPLE_RATE) for _ in chunk]
    if engine == "espeak":
        speaker = tts.EspeakEngine()
        return [
            (speaker.say(c.word, str(r.choice(tts.ESPEAK_ACCENTS)), c.voice.name,
                         int(r.integers(*ESPEAK_RATE_WPM, endpoint=True)),
                         int(r.integers(*ESPEAK_PITCH, endpoint=True)),
                         int(r.integers(*ESPEAK_PITCH_RANGE, endpoint=True)),
                         int(r.integers(0, 2**31))), speaker.sample_rate)
            for c, r in zip(chunk, rngs)
        ]
    if engine == "flite":
        speaker = tts.FliteEngine()
        return [speaker.say(c.word, c.voice.name, r.uniform(*FLITE_STRETCH), r.uniform(*FLITE_F0_HZ),
                            int(r.integers(0, 2**31)))
                for c, r in zip(chunk, rngs)]
    if engine in festival_engine.ENGINES:
        return festival_engine.festival_batch([festival_engine.FestivalRequest(c.word, c.voice.name, r.uniform(*FESTIVAL_STRETCH))
                                   for c, r in zip(chunk, rngs)])
    if engine == "piper":  # one session per voice, seeded from the chunk (see piper_engine)
        from edgetune.data.piper_engine import PiperEngine

        session_seed = int(np.random.default_rng([*chunk[0].seed, 4]).integers(0, 2**31))
        speakers = {name: PiperEngine(name, session_seed) for name in sorted({c.voice.name for c in chunk})}
        return [speakers[c.voice.name].say(c.word, r.uniform(*PIPER_LENGTH), r.uniform(*PIPER_NOISE),
                                           r.uniform(*PIPER_NOISE_W))
                for c, r in zip(chunk, rngs)]
    raise ValueError(f"unknown engine {engine!r}")


def make_chunk(chunk: list[ClipSpec]) -> tuple[list[tuple[str, int]], np.ndarray]:
    """Worker: speak, augment (stream 2 of the clip's seed) and featurise one chunk."""
    audio = []
    for clip, (speech, rate) in zip(chunk, _speak_chunk(chunk)):
        rng = np.random.default_rng(list(clip.seed) + [2])
        audio.append(augment.silence_clip(rng) if clip.voice is None
                     else augment.keyword_clip(rng, speech, rate, clip.snr_db))
    warps = np.array([c.warp for c in chunk])
    return [(c.split, c.position) for c in chunk], mfcc.mfcc(np.stack(audio), None if (warps == 1.0).all() else warps)


def worker_count(jobs: int) -> int:
    return jobs if jobs > 0 else len(os.sched_getaffinity(0))


def synthesise(the_plan: Plan, params: DataParams) -> dict[str, np.ndarray]:
    """Float MFCC of every planned clip, per split, in plan order (see the module docstring); with
    ``data.cmn``, each clip's mean over time removed (:func:`edgetune.data.mfcc.mean_normalise`)."""
    work = chunks(the_plan.clips)
    sizes = {s: sum(c.split == s for c in the_plan.clips) for s in SPLITS}
    features = {s: np.zeros((n, mfcc.FRAMES, mfcc.COEFFICIENTS), np.float32) for s, n in sizes.items()}
    jobs = worker_count(params.jobs)
    log.info("synthesising %d clips (%d classes × %d, engines %s) in %d chunks on %d workers",
             len(the_plan.clips), len(the_plan.classes), params.clips_per_word, ", ".join(params.engines),
             len(work), jobs)
    tqdm.tqdm.monitor_interval = 0  # no monitor thread alive while forking workers
    # A fresh process per chunk (maxtasksperchild=1): see the module docstring.
    with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=1) as pool, \
            tqdm.tqdm(total=len(the_plan.clips), unit="clip", desc="fetch", mininterval=1.0) as bar:
        for where, feats in pool.imap_unordered(make_chunk, work):
            for (split, position), f in zip(where, feats):
                features[split][position] = f
            bar.update(len(where))
    return {s: mfcc.mean_normalise(f) for s, f in features.items()} if params.cmn else features


def generate(params: DataParams) -> KwsDataset:
    """Synthesise the whole dataset (see the module docstring)."""
    versions = tts.check_engines(list(params.engines))
    the_plan = plan(params)
    features = synthesise(the_plan, params)
    low, high = mfcc.fit_uint8_range(features["train"])
    labels = {s: np.array([c.label for c in the_plan.clips if c.split == s], np.int32) for s in SPLITS}
    speakers = {s: np.array([c.voice.speaker if c.voice else "" for c in the_plan.clips if c.split == s])
                for s in SPLITS}
    engines_used = {s: {e: int(sum(c.engine == e for c in the_plan.clips if c.split == s))
                        for e in [*params.engines, "noise"]} for s in SPLITS}
    meta = {
        "source": "synthetic",
        "generator": params.model_dump(include={"words", "clips_per_word", "engines", "val_voice_fraction", "seed"}
                                       | ({"voice_perturbation"} if params.voice_perturbation else set())
                                       | ({"val_snr_db"} if tuple(params.val_snr_db) != augment.SNR_DB else set())
                                       | ({"train_snr_db"} if tuple(params.train_snr_db) != augment.SNR_DB else set())
                                       | ({"cmn"} if params.cmn else set())),
        "engines": versions,
        "clips_per_engine": engines_used,
        "speakers": the_plan.speakers,
        "features": "TF speech_commands MFCC: 16 kHz, 1 s, window 640, stride 320, FFT 1024, "
                    "40 mel bands 20-4000 Hz, 10 coefficients -> 49x10"
                    + ("; each clip's mean over time removed per coefficient (CMN)" if params.cmn else ""),
        "uint8": {
            "rule": "uint8 = round(clip((mfcc - low) / (high - low), 0, 1) * 255), per coefficient",
            "low": low.tolist(),
            "high": high.tolist(),
            "fitted_on": f"train, percentiles {list(mfcc.UINT8_PERCENTILES)}",
        },
    }
    return KwsDataset(
        x_train=mfcc.to_uint8(features["train"], low, high)[..., None], y_train=labels["train"],
        x_val=mfcc.to_uint8(features["val"], low, high)[..., None], y_val=labels["val"],
        classes=np.array(the_plan.classes), speaker_train=speakers["train"], speaker_val=speakers["val"], meta=meta,
    )
