"""The ``extractor`` section of the params schema: the DS-CNN-edge, BrainChip's model, or the user's."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edgetune.params.base import PosInt, Seed, Section, check_sha256, check_url

# BrainChip's pretrained v1 DS-CNN-edge (64 spikes), as akida_models' ds_cnn_kws_pretrained() fetches it
BRAINCHIP_MODEL_URL = "https://data.brainchip.com/models/AkidaV1/ds_cnn/ds_cnn_kws_iq8_wq4_aq4_laq1.h5"
BRAINCHIP_MODEL_SHA256 = "2ba6220bb9545857c99a327ec14d2d777420c7848cb6a9b17d87e5a01951fe6f"


class ExtractorParams(Section):
    """extractor: the DS-CNN-edge feature extractor that turns MFCCs into binary spikes."""

    source: Literal["train", "brainchip", "file"] = "train"
    path: str = ""  # source=file: the user's .fbz or quantized Keras .h5
    # source=brainchip: the quantized Keras .h5 and its sha256 (empty → logged, warned); a mirror: change the url
    url: str = BRAINCHIP_MODEL_URL
    sha256: str = BRAINCHIP_MODEL_SHA256
    conv_filters: PosInt = 32
    separable_filters: PosInt = 128
    spike_width: PosInt = 256
    epochs: PosInt = 8  # float training
    qat_epochs: PosInt = 4  # quantization-aware fine-tuning
    batch_size: PosInt = 100
    learning_rate: Annotated[float, Field(gt=0)] = 1e-3  # initial; cosine decay to 0 over the epochs
    qat_learning_rate: Annotated[float, Field(gt=0)] = 5e-4
    augment_shift: Annotated[int, Field(ge=0, le=24)] = 4  # max time shift in frames (20 ms each); 0 = none
    augment_noise: Annotated[float, Field(ge=0)] = 12.0  # Gaussian noise std in uint8 levels; 0 = none
    firing_target: Annotated[float, Field(gt=0, lt=1)] = 0.3
    # Levers measured in docs/levers.md (activation_quantile on by default; the others off):
    # SpecAugment on the training MFCC: this many time masks and as many coefficient masks per sample
    specaugment: Annotated[int, Field(ge=0, le=4)] = 0
    # before quantizing, scale each 4-bit ReLU's input so this quantile of its positive values
    # lands on the ReLU's maximum (6): the 15 levels then cover what the layer outputs; 0 = off
    activation_quantile: Annotated[float, Field(ge=0, lt=1)] = 0.999
    # quantization-aware fine-tuning on targets mixed with the float model's soft outputs; 0 = off
    distillation: Annotated[float, Field(ge=0, le=1)] = 0.0
    seed: Seed = 0

    _hex_digest = field_validator("sha256")(check_sha256)
    _url = field_validator("url")(check_url)

    @model_validator(mode="after")
    def _path_for_file(self) -> "ExtractorParams":
        if self.source == "file" and not self.path:
            raise ValueError("source 'file' needs extractor.path: the .fbz or .h5 to read")
        return self
