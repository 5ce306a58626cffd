"""Festival: the CMU/OGI English voices, and voices of other languages reading the English words.

One ``festival -b`` process speaks a whole chunk of words from one scheme script (~190 ms of CPU
per process, bench/bench_fetch_engines.py), one WAV per word. The ``accented`` engine is festival
with the voices of other languages: each reads English text with its own language's
letter-to-sound rules, so it speaks the words with an accent, as many real keyword speakers do.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import numpy as np

from edgetune.errors import EdgetuneError

APT_HINT = "install it with `sudo apt-get install {packages}` (or `make setup`), or remove {engine} from data.engines"

# festival voice → (person, Debian package).
FESTIVAL_VOICES = {
    "kal_diphone": ("kal", "festvox-kallpc16k"),
    "ked_diphone": ("ked", "festvox-kdlpc16k"),
    "cmu_us_slt_arctic_hts": ("slt", "festvox-us-slt-hts"),
}
# Festival voices of other languages that speak English text (measured: each gives speech for all 35
# words, byte-identical across runs). Left out: the Hindi, Marathi and Telugu voices write no audio
# for Latin text, and festvox-ru is a 179 MB download.
ACCENTED_VOICES = {
    "czech_dita": ("cs-dita", "festvox-czech-dita"),
    "czech_krb": ("cs-krb", "festvox-czech-krb"),
    "czech_machac": ("cs-machac", "festvox-czech-machac"),
    "czech_ph": ("cs-ph", "festvox-czech-ph"),
    "suo_fi_lj_diphone": ("fi-lj", "festvox-suopuhe-lj"),
    "hy_fi_mv_diphone": ("fi-mv", "festvox-suopuhe-mv"),
    "lp_diphone": ("it-lp", "festvox-italp16k"),
    "pc_diphone": ("it-pc", "festvox-itapc16k"),
    "upc_ca_ona_hts": ("ca-ona", "festvox-ca-ona-hts"),
}
ENGINES = {"festival": FESTIVAL_VOICES, "accented": ACCENTED_VOICES}  # both spoken by festival_batch


def check(engine: str) -> str:
    """Fail with the install hint if festival or one of the engine's voices is missing; else its version."""
    voices = ENGINES[engine]
    hint = APT_HINT.format(packages=" ".join(["festival"] + [pkg for _, pkg in voices.values()]), engine=engine)
    if shutil.which("festival") is None:
        raise EdgetuneError(f"data.engines: {engine}: festival is not installed (no `festival` on PATH); {hint}")
    proc = subprocess.run(["festival", "--pipe"], input="(print (voice.list))\n", capture_output=True, text=True, timeout=120)
    installed = proc.stdout.replace("(", " ").replace(")", " ").split()
    missing = {v: pkg for v, (_, pkg) in voices.items() if v not in installed}
    if missing:
        raise EdgetuneError(f"data.engines: {engine}: festival lacks voices {sorted(missing)}; "
                            + APT_HINT.format(packages=" ".join(sorted(set(missing.values()))), engine=engine))
    version = subprocess.run(["festival", "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    return version.splitlines()[0].removeprefix("festival: ") if version else "festival"


def read_wav(data: bytes | str | Path) -> tuple[np.ndarray, int]:
    """16-bit mono WAV → (float32 samples in [-1, 1), sample rate)."""
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    with wave.open(source, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise EdgetuneError(f"TTS output is not 16-bit mono WAV ({w.getsampwidth() * 8}-bit, {w.getnchannels()} ch)")
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return samples.astype(np.float32) / 32768.0, rate


@dataclass(frozen=True)
class FestivalRequest:
    text: str
    voice: str
    duration_stretch: float


def festival_batch(requests: list[FestivalRequest]) -> list[tuple[np.ndarray, int]]:
    """Speak the requests, one festival process per run of the same voice.

    A process per voice, because the Czech voices leave state behind that changes the next Czech
    voice's audio in the same process (measured); the English voices leave none, so their audio
    is what one process for the whole batch gave.
    """
    return [out for _, run in groupby(requests, key=lambda r: r.voice) for out in _festival_process(list(run))]


def _festival_process(requests: list[FestivalRequest]) -> list[tuple[np.ndarray, int]]:
    """Speak all requests in one festival process (one scheme script, one WAV per request)."""
    if not requests:
        return []
    with tempfile.TemporaryDirectory(prefix="edgetune-festival-") as tmp:
        lines, current = [], None
        for i, req in enumerate(requests):
            if not req.text.replace(" ", "").isalnum():
                raise ValueError(f"festival text must be plain words, got {req.text!r}")
            if req.voice != current:
                lines.append(f"(voice_{req.voice})")
                current = req.voice
            lines.append(f"(Parameter.set 'Duration_Stretch {req.duration_stretch:.4f})")
            lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{req.text}")) "{tmp}/{i}.wav" \'riff)')
        script = Path(tmp) / "batch.scm"
        script.write_text("\n".join(lines) + "\n")
        proc = subprocess.run(["festival", "-b", str(script)], capture_output=True, text=True, timeout=3600)
        outputs = []
        for i, req in enumerate(requests):
            wav = Path(tmp) / f"{i}.wav"
            if proc.returncode != 0 or not wav.exists():
                raise EdgetuneError(
                    f"festival failed on {req.text!r} with voice {req.voice}: {proc.stderr.strip()[-300:]}"
                )
            outputs.append(read_wav(wav))
        return outputs
