"""Why the fetch stage calls its TTS engines the way it does, measured side by side in one run.

- flite in-process through libflite (ctypes) against one ``flite`` process per word;
- festival batched (one process speaks many words) against one ``festival`` process per word;
- eSpeak NG in-process, for scale;
- Piper (neural): per word once its session is loaded, and the session's load (once per chunk).
Prints CPU milliseconds per word (process + children) and the ratios.

    .venv/bin/python bench/bench_fetch_engines.py [words per case, default 40]
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune.data import festival_engine, piper_engine, tts  # noqa: E402
from edgetune.vocabulary import TUTORIAL_WORDS  # noqa: E402


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def per_word_ms(fn, words: list[str]) -> float:
    start = cpu_seconds()
    fn(words)
    return 1000 * (cpu_seconds() - start) / len(words)


def flite_processes(words: list[str]) -> None:
    for i, word in enumerate(words):
        voice = list(tts.FLITE_VOICES)[i % 4]
        subprocess.run(["flite", "-voice", voice, "-t", word, "-o", "/dev/stdout"], capture_output=True, check=True)


def flite_in_process(words: list[str]) -> None:
    engine = tts.FliteEngine()
    for i, word in enumerate(words):
        engine.say(word, list(tts.FLITE_VOICES)[i % 4], 1.0, 120.0, i)


def festival_processes(words: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for i, word in enumerate(words):
            script = Path(tmp) / "one.scm"
            script.write_text(f'(voice_kal_diphone)\n(utt.save.wave (utt.synth (Utterance Text "{word}")) "{tmp}/o.wav" \'riff)\n')
            subprocess.run(["festival", "-b", str(script)], capture_output=True, check=True)


def festival_batched(words: list[str]) -> None:
    festival_engine.festival_batch([festival_engine.FestivalRequest(w, "kal_diphone", 1.0) for w in words])


def espeak_in_process(words: list[str]) -> None:
    engine = tts.EspeakEngine()
    for i, word in enumerate(words):
        engine.say(word, "en-us", tts.ESPEAK_VARIANTS[i % len(tts.ESPEAK_VARIANTS)], 170, 50, 50, i)


def piper_in_process(words: list[str]) -> None:
    engine = piper_engine.PiperEngine("joe", 0)
    for word in words:
        engine.say(word, 1.0, 0.667, 0.8)


def piper_load(_words: list[str]) -> None:
    piper_engine.PiperEngine("joe", 0)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    words = [TUTORIAL_WORDS[i % len(TUTORIAL_WORDS)] for i in range(n)]
    flite_cli, flite_lib = per_word_ms(flite_processes, words), per_word_ms(flite_in_process, words)
    fest_cli, fest_batch = per_word_ms(festival_processes, words), per_word_ms(festival_batched, words)
    espeak = per_word_ms(espeak_in_process, words)
    piper_load_ms = per_word_ms(piper_load, ["load"])
    piper = per_word_ms(piper_in_process, words) - piper_load_ms / n
    print(f"CPU ms per word ({n} words each)")
    print(f"flite:    one process per word {flite_cli:6.1f}   in-process {flite_lib:6.1f}   ratio {flite_cli / flite_lib:5.1f}x")
    print(f"festival: one process per word {fest_cli:6.1f}   batched    {fest_batch:6.1f}   ratio {fest_cli / fest_batch:5.1f}x")
    print(f"espeak:   in-process {espeak:6.1f}")
    print(f"piper:    in-process {piper:6.1f}   session load {piper_load_ms:6.1f} (once per chunk of 64 clips)")


if __name__ == "__main__":
    main()
