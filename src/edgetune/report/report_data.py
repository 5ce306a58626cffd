"""Sections 1–2 of the report: the data and the extractor that hears it — who speaks, in what
regime against the tutorial's, and how well the extractor does for each voice group and engine."""

from __future__ import annotations

from edgetune.report.formats import md_table, num, pct
from edgetune.report.inputs import need
from edgetune.report.terms import Terms, terms_of


def data_section(data: dict) -> list[str]:
    counts = need(data, "counts", "data")
    samples = need(data, "samples", "data")
    voices = data.get("voices") or {}
    terms = terms_of(data)
    classes = sorted(set(counts.get("train", {})) | set(counts.get("val", {})))

    def per_class(split: str) -> str:
        c = list(counts.get(split, {}).values())
        return "n/a" if not c else (str(min(c)) if min(c) == max(c) else f"{min(c)}–{max(c)}")

    def voices_of(split: str) -> str:
        v = voices.get(split)
        return "not recorded" if v is None else str(v)

    shape = "" if terms.speech else f" of shape {tuple(need(data, 'sample_shape', 'data'))}"
    rows = [["samples", samples["train"], samples["val"]], ["samples per class", per_class("train"), per_class("val")]]
    if terms.speech or any(v is not None for v in voices.values()):
        label = "voices (speakers)" if terms.speech else "groups (speaker_train, speaker_val)"
        rows.append([label, voices_of("train"), voices_of("val")])
    return [
        "## 1. Data",
        "",
        f"Source **{need(data, 'source', 'data')}**: {need(data, 'num_classes', 'data')} classes, "
        f"{samples['train']} training and {samples['val']} validation samples{shape}.",
        "",
        *md_table(["", "train", "validation"], rows),
        "Classes: " + ", ".join(f"`{c}`" for c in classes) + ".",
        "",
        *regime_lines(data.get("val_regime")),
    ]


# BrainChip's KWS tutorials on real speech (Speech Commands, held-out speakers): the regime to compare with
TUTORIAL_REGIME = "real speech (Speech Commands): Akida backbone 91.7 %, edge layer 88.8 %"


def regime_lines(regime: dict | None) -> list[str]:
    """What the validation accuracy measures, against the tutorial's; only synthetic data records it."""
    if not regime:
        return []
    low, high = regime["speech_snr_db"]
    train_low, train_high = regime["training_snr_db"]
    cmn = ", MFCC with each clip's cepstral mean removed" if regime["cmn"] else ""
    engines = regime.get("clips_per_engine")
    spoken = "" if not engines else (" Clips per engine, training / validation: " + ", ".join(
        f"{e} {n} / {engines['val'].get(e, 0)}" for e, n in engines["train"].items() if e != "noise")
        + " (the table by voice group below splits validation by held-out person).")
    return [f"**Regime.** Validation is the held-out voices (no validation speaker in training), speech at "
            f"{low:g}–{high:g} dB SNR of coloured noise (training: {train_low:g}–{train_high:g} dB){cmn}: "
            f"synthetic speech, not the tutorial's {TUTORIAL_REGIME}. Its answers transfer only as far as "
            f"the regimes agree.{spoken}", ""]


def extractor_section(ext: dict, terms: Terms = Terms(speech=True), engines: dict | None = None) -> list[str]:
    """Every key read with need(): a key the extractor stage renames fails here, not as "n/a".

    ``engines``: the dataset's held-out voice groups by engine (synthetic data only): the table by
    group then names each group's engine, and says the accuracy by engine."""
    def get(key: str):
        return need(ext, key, "extractor")

    source = get("extractor_source")
    rows = [
        ["float model", pct(get("float_val_accuracy"))],
        ["quantized model", pct(get("quantized_val_accuracy"))],
        ["Akida model (converted)", pct(get("akida_val_accuracy"))],
    ]
    missing = [r[0] for r in rows if r[1] == "n/a"]
    lines = [
        "## 2. Feature extractor",
        "",
        f"Source **{source}**. Validation accuracy of the full classifier ({get('val_spike_samples')} validation samples):",
        "",
        *md_table(["model", "validation accuracy"], rows),
    ]
    if missing:
        lines += [f"n/a: not measured for source `{source}` (no training run to measure it on).", ""]
    lines += [
        "Its output, the binary spikes the edge layer learns from:",
        "",
        *md_table(["spike output", "value"], [
            ["spike width (neurons)", get("spike_width")],
            ["spikes per sample, median", num(get("val_median_spikes"))],
            ["spikes per sample, mean", num(get("mean_spikes"))],
            ["firing fraction", pct(get("firing_fraction"))],
            ["neurons that never fire", num(get("neurons_never_firing"))],
            ["neurons that always fire", num(get("neurons_always_firing"))],
        ]),
    ]
    by_voice = ext.get("akida_val_accuracy_by_voice")  # only where the dataset records voices
    if by_voice:
        spoken_by = {g: [e for e, groups in (engines or {}).items() if g in groups] for g in by_voice}
        rows = [[name, *([", ".join(spoken_by[name]) or "—"] if engines else []), pct(v["accuracy"]), v["samples"]]
                for name, v in sorted(by_voice.items())]
        lines += [f"The Akida model's validation accuracy by {terms.groups[:-1]} group (held-out {terms.groups}):", "",
                  *md_table([terms.groups, *(["engine"] if engines else []), "accuracy", "samples"], rows,
                            "llrr" if engines else None),
                  *engine_lines(by_voice, spoken_by, engines)]
    return lines


def engine_lines(by_voice: dict, spoken_by: dict[str, list[str]], engines: dict | None) -> list[str]:
    """The accuracy by engine: each engine's groups pooled, where every one of them is that engine's alone."""
    if not engines:
        return []
    said = []
    for engine, groups in engines.items():
        mine = [g for g in groups if g in by_voice]
        if not mine or any(spoken_by[g] != [engine] for g in mine):
            continue  # no held-out group, or a person two engines speak: not one engine's accuracy
        n = sum(by_voice[g]["samples"] for g in mine)
        said.append(f"{engine} {pct(sum(by_voice[g]['accuracy'] * by_voice[g]['samples'] for g in mine) / n)} ({n})")
    return [f"By engine (validation samples): {', '.join(said)}.", ""] if said else []
