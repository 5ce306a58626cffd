"""An Akida model mapped onto a virtual device, and the engine's own figures read back.

akida ships virtual devices (``akida.AKD1000()``, ``akida.AKD1500()``); ``Model.map(device,
hw_only=True)`` works offline and fills in, per layer, the NPs it uses and their memory. This
module only reads what the engine says — components by type, program bytes (the sum of the
sequences' programs), external memory bytes, where the edge layer went and whether the device
could still learn — so it is shared by the extractor stage (the extractor alone) and the
hardware stage (extractor + edge layer). Kept apart from the stage so editing the stage does not
retrain the extractor. A model the engine refuses maps to a reason, never an exception.
"""

from __future__ import annotations

from pathlib import Path

import akida

from edgetune.errors import EdgetuneError

DEVICES = {"AKD1000": akida.AKD1000, "AKD1500": akida.AKD1500}
# NP types an Akida 1.0 learning layer runs on. The engine's own limits: "Learning is not
# supported for layers mapped on more than 1 NP", "Learning not implemented on v2".
LEARNING_NPS = {"FNP2", "FNP3"}
# the input convolution runs on the HRC, which the summary does not count as an NP
HRC_LAYERS = {akida.LayerType.InputConvolutional, akida.LayerType.InputConv2D}


def device(name: str) -> akida.Device:
    try:
        return DEVICES[name]()
    except KeyError:
        raise EdgetuneError(f"hardware.device = {name!r}: unknown; use one of {', '.join(DEVICES)}") from None


def load_model(path: str | Path) -> akida.Model:
    path = Path(path)
    if not path.exists():
        raise EdgetuneError(f"{path}: not found; run the extractor stage first (dvc repro extractor)")
    try:
        return akida.Model(str(path))
    except (RuntimeError, ValueError) as exc:
        raise EdgetuneError(f"{path}: not a readable Akida model ({exc}); rerun dvc repro extractor") from None


def mapped_layers(model: akida.Model):
    """(sequence, layer) for every layer of a mapped model, in order."""
    for sequence in model.sequences:
        for current in sequence.passes:
            for layer in current.layers:
                yield sequence, layer


def mapping_figures(model: akida.Model, device_name: str) -> dict:
    """Map ``model`` (in place) and read the engine's figures; an engine refusal becomes the reason."""
    try:
        model.map(device(device_name), hw_only=True)
    except (RuntimeError, ValueError) as exc:
        return {"maps": False, "reason": f"does not map: {exc}"}
    nps = sum(len(layer.mapping.nps) for _, layer in mapped_layers(model)
              if layer.mapping is not None and layer.parameters.layer_type not in HRC_LAYERS)
    return {
        "maps": True,
        "reason": None,
        "sequences": len(model.sequences),
        "nps": nps,  # as the engine's summary counts them
        "components": {t.name: int(n) for t, n in sorted(model.component_count.items(), key=lambda kv: kv[0].name)},
        "program_bytes": sum(len(s.program) for s in model.sequences),
        "external_bytes": int(model.external_memory_size),
    }


def layer_figures(model: akida.Model, name: str) -> dict:
    """Where layer ``name`` of a mapped model went, and whether the device can train it (the last layer)."""
    placed = [(s, layer) for s, layer in mapped_layers(model) if layer.name == name]
    if not placed or placed[0][1].mapping is None:
        return {"edge_np": None, "edge_nps": 0, "edge_on_chip": False, "edge_external_bytes": None,
                "learns_on_device": False}
    sequence, layer = placed[0]
    nps = layer.mapping.nps
    types = sorted({n.type.name for n in nps})
    external = sum(int(n.mem_info.external_size) for n in nps)
    return {
        "edge_np": "+".join(types),
        "edge_nps": len(nps),
        "edge_on_chip": external == 0,  # its weights sit in the NP's own memory
        "edge_external_bytes": external,
        "learns_on_device": bool(model.learning) and model.layers[-1].name == name
        and sequence.backend == akida.BackendType.Hardware and len(nps) == 1 and types[0] in LEARNING_NPS,
    }


def map_extractor(path: str | Path) -> dict:
    """The extractor alone on every known device (metrics/extractor.json): what it leaves for the edge layer."""
    return {name: mapping_figures(load_model(path), name) for name in DEVICES}
