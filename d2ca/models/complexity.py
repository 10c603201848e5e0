"""Parameter and operation counts of the encoders (the paper's 0.35 M / 82.59 M)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from d2ca.config import D2CAConfig
from d2ca.models.networks import Encoder


def encoder_complexity(config: D2CAConfig) -> dict[str, float]:
    """Parameters, multiply-adds and FLOPs (2 x multiply-adds) of one encoder, one image.

    Counted by :class:`torch.utils.flop_counter.FlopCounterMode` (convolutions; batch norm and
    activations add <1%). The paper's "82.59 M FLOPs" matches multiply-adds, the convention of
    thop and most vision papers.

    >>> c = encoder_complexity(D2CAConfig())
    >>> round(c["params"] / 1e6, 3), round(c["macs"] / 1e6, 1)
    (0.344, 81.4)
    """
    encoder = Encoder(config).eval()
    x = torch.zeros(1, config.in_channels, config.image_size, config.image_size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        encoder(x)
    flops = float(counter.get_total_flops())
    params = float(sum(p.numel() for p in encoder.parameters()))
    return {"params": params, "macs": flops / 2, "flops": flops}
