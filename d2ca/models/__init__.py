"""Pure ``nn.Module``s of D2CA; nothing here does I/O or optimisation."""

from d2ca.models.complexity import encoder_complexity
from d2ca.models.d2ca import D2CAModel, Domain, to_model_input, to_uint8_images
from d2ca.models.layers import StackedBatchNorm2d, frozen_norm_stats, stacked
from d2ca.models.networks import (
    AUClassifier,
    Decoder,
    Encoder,
    MultiScaleDiscriminator,
    PatchDiscriminator,
    ProjectionHead,
)

__all__ = [
    "AUClassifier",
    "D2CAModel",
    "Decoder",
    "Domain",
    "Encoder",
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "ProjectionHead",
    "StackedBatchNorm2d",
    "encoder_complexity",
    "frozen_norm_stats",
    "stacked",
    "to_model_input",
    "to_uint8_images",
]
