"""The one configuration of a D2CA checkpoint, saved beside its weights as ``config.json``."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2ca.aus import DATASET_AUS, au_name

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass(frozen=True)
class D2CAConfig:
    """Architecture, preprocessing, AU vocabulary, objective weights and provenance.

    Defaults follow the paper (Section IV and Eq. 9-12); ``image_size=128`` is our choice
    (the paper does not state it; 128x128 matches its encoder counts).

    Example:
        >>> cfg = D2CAConfig(image_size=64, enc_widths=(8, 8, 16, 16, 16, 16, 32, 32))
        >>> D2CAConfig.from_dict(cfg.to_dict()) == cfg
        True
    """

    # --- input -----------------------------------------------------------------------
    image_size: int = 128  # aligned face crops, square
    in_channels: int = 3
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)  # pixels in [0, 1] -> [-1, 1]
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    # --- encoders (E_au, E_dm^s, E_dm^t share this structure): eight conv layers --------
    enc_widths: tuple[int, ...] = (24, 32, 48, 64, 64, 96, 96, 128)
    enc_strides: tuple[int, ...] = (1, 2, 1, 2, 1, 2, 1, 1)  # 128 -> 16
    au_channels: int = 128  # channels of a = E_au(x); spatial size image_size / 8
    dm_channels: int = 128  # channels of d = E_dm(x)
    # --- decoder G: seven conv layers + auxiliary branch re-injecting d ---------------
    dec_widths: tuple[int, ...] = (128, 96, 64, 48, 32, 24)
    # --- discriminators D_s, D_t: multi-scale PatchGAN --------------------------------
    disc_widths: tuple[int, ...] = (32, 64, 128)
    disc_scales: int = 2
    # --- heads ---------------------------------------------------------------------------
    proj_hidden: int = 256  # ICL projection head P
    proj_dim: int = 128
    au_names: tuple[str, ...] = tuple(au_name(n) for n in DATASET_AUS["bp4d"])
    au_thresholds: tuple[float, ...] | None = None  # per-AU decision threshold; None -> 0.5
    # --- objective (Eq. 9 and 12) ------------------------------------------------------
    lambda_: float = 0.1  # weight of L_icl + L_fcl
    gamma1: float = 1.0  # L_rep
    gamma2: float = 5.0  # L_rec
    gamma3: float = 0.1  # L_adv
    gamma4: float = 1.0  # L_ort
    tau: float = 0.07  # ICL temperature
    alpha: float = 0.1  # FCL margin
    use_icl: bool = True
    use_fcl: bool = True
    # --- provenance: training data, pair, steps, seed, version, metrics ----------------
    provenance: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if len(self.enc_widths) != 8 or len(self.enc_strides) != 8:
            raise ValueError("enc_widths and enc_strides need eight entries (eight conv layers)")
        down = 1
        for s in self.enc_strides:
            down *= s
        if self.image_size % down:
            raise ValueError(f"image_size {self.image_size} is not divisible by {down}")
        if self.au_thresholds is not None and len(self.au_thresholds) != len(self.au_names):
            raise ValueError(
                f"au_thresholds has {len(self.au_thresholds)} values for "
                f"{len(self.au_names)} AUs"
            )

    @property
    def num_aus(self) -> int:
        return len(self.au_names)

    @property
    def feature_size(self) -> int:
        """Spatial side of the AU and domain feature maps."""
        down = 1
        for s in self.enc_strides:
            down *= s
        return self.image_size // down

    @property
    def thresholds(self) -> tuple[float, ...]:
        return self.au_thresholds or (0.5,) * self.num_aus

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> D2CAConfig:
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / CONFIG_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> D2CAConfig:
        path = Path(folder) / CONFIG_NAME
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"no {CONFIG_NAME} in {folder}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON: {e}") from None
        return cls.from_dict(data)
