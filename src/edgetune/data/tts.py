"""The text-to-speech engines that speak the synthetic dataset, and their voices.

Five engines, each turning a word into a mono float32 waveform at its native rate: eSpeak NG
(the ``espeakng-loader`` wheel, ctypes, ~1 ms per word), flite (libflite through ctypes: a process
per word costs twice the CPU), festival (one process per chunk of words: ~190 ms of CPU per
process, bench/bench_fetch_engines.py), ``accented`` (festival's voices of other languages reading
the English words with their own letter-to-sound rules: accented speech) and Piper (neural,
:mod:`edgetune.data.piper_engine`).

Every engine is deterministic for the same input *and the same history*: eSpeak NG keeps state
between utterances, so each chunk of clips is spoken in a fresh process
(:mod:`edgetune.data.synthetic`); libc's ``rand()`` noise is seeded per utterance.

A voice is a person: flite's ``slt`` and festival's ``cmu_us_slt_arctic_hts`` are both CMU
ARCTIC's SLT, so they share a speaker id and the voice-disjoint split never splits a person.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgetune.data import festival_engine, piper_engine
from edgetune.data.festival_engine import APT_HINT
from edgetune.errors import EdgetuneError



# eSpeak NG: English accents (language files) and the variants that sound like a human speaker.
# Robotic/monster variants (robosoft*, UniRobot, Demonic, croak) and whispers are left out, and so
# are f2, f3, f5, Alicia, sandro and victor: their "breath" noise (non-Klatt synthesis) changes
# from one run to the next even with libc's rand() seeded (measured), which would break
# byte-identical outputs.
ESPEAK_ACCENTS = (
    "en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)
ESPEAK_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f4",
    "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6",
    "Alex", "Andrea", "Andy", "Annie", "AnxiousAndy", "Denis", "Diogo", "Gene", "Gene2",
    "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Nguyen", "Reed",
    "RicishayMax", "RicishayMax2", "RicishayMax3", "Storm", "Tweaky", "adam", "anika", "announcer",
    "antonio", "aunty", "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward", "edward2",
    "grandma", "grandpa", "gustave", "ian", "iven", "iven2", "iven3", "iven4", "john", "kaukovalta",
    "linda", "marcelo", "max", "michel", "miguel", "mike2", "norbert", "pablo", "paul", "pedro",
    "quincy", "rob", "robert", "shelby", "steph", "steph2", "steph3", "travis", "zac",
)

# flite voice → person
FLITE_VOICES = {"kal16": "kal", "awb": "awb", "rms": "rms", "slt": "slt"}


@dataclass(frozen=True)
class Voice:
    engine: str  # espeak | flite | festival | piper
    name: str  # engine's own voice name (espeak: the variant)
    speaker: str  # person id shared across engines, used by the voice-disjoint split


def voices(engine: str) -> list[Voice]:
    """The fixed voice list of an engine (fixed, so the dataset does not depend on what else is installed)."""
    if engine == "espeak":
        return [Voice("espeak", v, f"espeak-{v}") for v in ESPEAK_VARIANTS]
    if engine == "flite":
        return [Voice("flite", v, p) for v, p in FLITE_VOICES.items()]
    if engine in festival_engine.ENGINES:
        return [Voice(engine, v, p) for v, (p, _) in festival_engine.ENGINES[engine].items()]
    if engine == "piper":
        return [Voice("piper", v, p) for v, (p, _, _) in piper_engine.VOICES.items()]
    raise ValueError(f"unknown engine {engine!r}")


# ---------------------------------------------------------------------------------- availability
def check_engines(engines: list[str]) -> dict[str, str]:
    """Fail with the install hint if a requested engine or one of its voices is missing.

    Returns each engine's version string, recorded in the dataset's meta.
    """
    checks = {"espeak": _check_espeak, "flite": _check_flite, "festival": functools.partial(festival_engine.check, "festival"),
              "accented": functools.partial(festival_engine.check, "accented"), "piper": piper_engine.check}
    return {engine: checks[engine]() for engine in engines}


def _check_espeak() -> str:
    try:
        import espeakng_loader  # noqa: F401
    except ImportError:
        raise EdgetuneError(
            "data.engines: espeak needs the Python package espeakng-loader; run `make setup` "
            "(pip install -r requirements.txt), or remove espeak from data.engines"
        ) from None
    data = Path(espeakng_loader.get_data_path())
    missing = [v for v in ESPEAK_VARIANTS if not (data / "voices" / "!v" / v).is_file()]
    missing += [a for a in ESPEAK_ACCENTS if not _espeak_language_file(data, a)]
    if missing:
        raise EdgetuneError(f"data.engines: espeak: the espeakng-loader data lacks voices {missing}; reinstall requirements.txt")
    return f"espeak-ng {EspeakEngine.version()} (espeakng-loader)"


def _espeak_language_file(data: Path, name: str) -> bool:
    return any(p.name.lower() == name.lower() for p in (data / "lang").rglob("*") if p.is_file())


def _check_flite() -> str:
    FliteEngine()  # loads libflite and every voice, or fails with the install hint
    if shutil.which("flite") is None:
        return "libflite"
    version = subprocess.run(["flite", "--version"], capture_output=True, text=True, timeout=60).stdout
    return next((line.split("version:")[1].strip() for line in version.splitlines() if "version:" in line), "flite")


# ------------------------------------------------------------------------------------- eSpeak NG
class EspeakEngine:
    """eSpeak NG through ctypes (synchronous mode: the callback receives the samples)."""

    _AUDIO_OUTPUT_SYNCHRONOUS = 2
    _RATE, _PITCH, _RANGE = 1, 3, 4
    _POS_CHARACTER = 1
    _CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

    def __init__(self) -> None:
        import espeakng_loader

        self._libc = ctypes.CDLL(ctypes.util.find_library("c"))
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.sample_rate = self._lib.espeak_Initialize(
            self._AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0
        )
        if self.sample_rate <= 0:
            raise EdgetuneError("eSpeak NG failed to initialise from the espeakng-loader wheel; reinstall requirements.txt")
        self._chunks: list[np.ndarray] = []
        self._callback = self._CALLBACK(self._collect)  # keep a reference: C holds the pointer
        self._lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, count, _events) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    @staticmethod
    @functools.cache
    def version() -> str:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Info.restype = ctypes.c_char_p
        return (lib.espeak_Info(None) or b"?").decode()

    def say(self, text: str, accent: str, variant: str, rate: int, pitch: int, pitch_range: int,
            noise_seed: int) -> np.ndarray:
        """Speak ``text``; rate in words per minute, pitch and range 0..100.

        eSpeak's noise sources (Klatt voicing noise, breath) draw from libc's ``rand()``; seeding
        it per utterance makes the audio independent of whatever else used ``rand()`` before.
        """
        self._libc.srand(ctypes.c_uint(noise_seed))
        if self._lib.espeak_SetVoiceByName(f"{accent}+{variant}".encode()) != 0:
            raise EdgetuneError(f"eSpeak NG has no voice {accent}+{variant}")
        for parameter, value in ((self._RATE, rate), (self._PITCH, pitch), (self._RANGE, pitch_range)):
            self._lib.espeak_SetParameter(parameter, int(value), 0)
        self._chunks = []
        encoded = text.encode()
        if self._lib.espeak_Synth(encoded, len(encoded) + 1, 0, self._POS_CHARACTER, 0, 0, None, None) != 0:
            raise EdgetuneError(f"eSpeak NG failed to speak {text!r}")
        self._lib.espeak_Synchronize()
        if not self._chunks:
            raise EdgetuneError(f"eSpeak NG produced no audio for {text!r} ({accent}+{variant})")
        return np.concatenate(self._chunks).astype(np.float32) / 32768.0


# ------------------------------------------------------------------------------------ flite
class _CstWave(ctypes.Structure):
    _fields_ = [("type", ctypes.c_char_p), ("sample_rate", ctypes.c_int), ("num_samples", ctypes.c_int),
                ("num_channels", ctypes.c_int), ("samples", ctypes.POINTER(ctypes.c_short))]


class _CstVoice(ctypes.Structure):  # only the leading fields we touch
    _fields_ = [("name", ctypes.c_char_p), ("features", ctypes.c_void_p), ("ffunctions", ctypes.c_void_p)]


class FliteEngine:
    """flite in-process through Debian's libflite (the library the ``flite`` program uses).

    In-process instead of one ``flite`` process per word: 2.2× less CPU per word
    (bench/bench_fetch_engines.py: 7 ms against 15 ms).
    The clustergen voices (awb, rms, slt) draw from libc's ``rand()``; it is seeded per utterance.
    """

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(ctypes.util.find_library("c"))
        try:
            self._lib = ctypes.CDLL("libflite.so.1", mode=ctypes.RTLD_GLOBAL)
            libs = {v: ctypes.CDLL(f"libflite_cmu_us_{v}.so.1", mode=ctypes.RTLD_GLOBAL) for v in FLITE_VOICES}
        except OSError as exc:
            raise EdgetuneError(f"data.engines: flite's libraries are missing ({exc}); "
                                + APT_HINT.format(packages="flite", engine="flite")) from None
        self._lib.flite_init()
        self._lib.flite_text_to_wave.restype = ctypes.POINTER(_CstWave)
        self._lib.flite_text_to_wave.argtypes = [ctypes.c_char_p, ctypes.POINTER(_CstVoice)]
        self._lib.feat_set_float.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_float]
        self._lib.delete_wave.argtypes = [ctypes.POINTER(_CstWave)]
        self._voices = {}
        for name, lib in libs.items():
            register = getattr(lib, f"register_cmu_us_{name}")
            register.restype, register.argtypes = ctypes.POINTER(_CstVoice), [ctypes.c_char_p]
            self._voices[name] = register(None)

    def say(self, text: str, voice: str, duration_stretch: float, f0_mean: float, noise_seed: int
            ) -> tuple[np.ndarray, int]:
        handle = self._voices[voice]
        self._lib.feat_set_float(handle.contents.features, b"duration_stretch", duration_stretch)
        self._lib.feat_set_float(handle.contents.features, b"int_f0_target_mean", f0_mean)
        self._libc.srand(ctypes.c_uint(noise_seed))
        wav = self._lib.flite_text_to_wave(text.encode(), handle)
        if not wav or wav.contents.num_samples <= 0:
            raise EdgetuneError(f"flite produced no audio for {text!r} with voice {voice}")
        try:
            samples = np.ctypeslib.as_array(wav.contents.samples, shape=(wav.contents.num_samples,)).copy()
            rate = wav.contents.sample_rate
        finally:
            self._lib.delete_wave(wav)
        return samples.astype(np.float32) / 32768.0, rate
