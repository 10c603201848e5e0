"""The one configuration of a D2CA checkpoint, saved beside its weights as ``config.json``."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import numbers
import reprlib
import types
import typing
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2ca.aus import DATASET_AUS, au_name

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

# What a config may ask for: generous for real use (the default is 128 px, widths up to 128,
# 12 AUs), yet bounded, so that a stranger's config.json cannot make the networks' modules
# take the machine's memory (see also hub.MAX_PARAMETERS).
IMAGE_SIZES = (16, 1024)  # 16: one feature cell after the encoders' /16; 1024: 8x the default
MAX_WIDTH = 4096  # channels of any layer: 32x the default's widest (128)
MAX_IN_CHANNELS = 4  # grey, RGB or RGBA
MAX_DISC_LAYERS = 8  # layers and scales of D_s, D_t: each halves the image, 1024 / 2**8 = 4
MAX_CONFIG_BYTES = 1 << 20  # the default's config.json, provenance included, is 4 KB
AU_NAMES = frozenset(au_name(n) for n in range(1, 100))  # FACS numbers its codes below 100
_KINDS = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string"}


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
    # 0.344 M parameters and 81.4 M multiply-adds each at 128x128 (paper: 0.35 M, 82.59 M)
    enc_widths: tuple[int, ...] = (16, 24, 32, 48, 96, 96, 96, 128)
    enc_strides: tuple[int, ...] = (2, 1, 2, 1, 2, 1, 2, 1)  # 128 -> 8; must multiply to 16
    # --- decoder G: seven conv layers + auxiliary branch re-injecting d ---------------
    # The paper gives no widths; these keep G at ~0.15 G multiply-adds per face, so that the
    # eight decodes of a step cost about as much as its sixteen encodes (CPU training).
    dec_widths: tuple[int, ...] = (128, 64, 48, 32, 16, 8)  # layers 1-6; layer 7 -> RGB
    dec_aux_channels: int = 8  # d projected and re-injected at each upsampled scale
    # The auxiliary branch re-injects d (the paper, Fig. 7) or [a, d]: the AU features too,
    # so that the fine layers see them (not in the paper; docs/synthesis.md).
    dec_aux_au: bool = False
    # --- discriminators D_s, D_t: multi-scale PatchGAN --------------------------------
    disc_widths: tuple[int, ...] = (32, 64, 128)
    disc_scales: int = 2
    # --- heads ---------------------------------------------------------------------------
    proj_hidden: int = 256  # ICL projection head P
    proj_dim: int = 128
    au_names: tuple[str, ...] = tuple(au_name(n) for n in DATASET_AUS["bp4d"])
    au_thresholds: tuple[float, ...] | None = None  # per-AU decision threshold; None -> 0.5
    # --- objective (Eq. 9 and 12) ------------------------------------------------------
    # weight of L_au = L_au^s + L_au^t in Eq. 9: 1 in the paper. Marked choice, see
    # docs/starvation.md.
    au_weight: float = 1.0
    lambda_: float = 0.1  # weight of L_icl + L_fcl
    gamma1: float = 1.0  # L_rep
    gamma2: float = 5.0  # L_rec
    gamma3: float = 0.1  # L_adv
    gamma4: float = 1.0  # L_ort
    tau: float = 0.07  # ICL temperature
    alpha: float = 0.1  # FCL margin
    use_icl: bool = True
    use_fcl: bool = True
    # Multiplier of the gradient that every term other than L_au (Eq. 4) sends to E_au's
    # parameters. 1 is the paper; 0 (our default) lets only L_au^s and L_au^t train E_au,
    # while the cyclic, adversarial, orthogonality and contrastive terms still train G,
    # E_dm^s, E_dm^t and P in full. Marked choice: with 1 the AU encoder does not learn at
    # CPU budgets (docs/starvation.md).
    aux_grad_e_au: float = 0.0
    use_au_t: bool = True  # L_au^t of Eq. 4 (off: an ablation, not in the paper)
    # L_au^t trains the classifier C too (the paper); False: C learns from real source faces
    # only and L_au^t trains the encoders and G. Marked choice, docs/training.md.
    au_t_trains_classifier: bool = True
    # Features compared by L_ort (Eq. 1) and L_rep (Eq. 5, 6): "raw" (the paper) or "batch",
    # each element standardised over the faces of the batch (losses.batch_standardise), so
    # that features constant across faces do not satisfy them. Marked choice, see
    # docs/starvation.md.
    feature_norm: str = "raw"
    # Whose statistics the batch-norm layers keep for eval mode: "real" (our default), only
    # the real faces' (E_au, E_dm on x_s and x_t; G on their features), or "all" (0.1.0),
    # also the synthesised faces' of the cyclic stages, which then outnumber the real ones
    # 7 to 2 in E_au. The paper does not say. docs/starvation.md.
    norm_stats: str = "real"
    # The norm of L_rec (Eq. 7): "l1" (the paper) or "l2" (mean squared error, an ablation of
    # docs/synthesis.md "Against the ideal swaps": L1's gradient is the error's sign,
    # so where other errors outweigh the AUs' small change it does not follow that change).
    rec_loss: str = "l1"
    # --- provenance: training data, pair, steps, seed, version, metrics ----------------
    provenance: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name, hint in typing.get_type_hints(type(self)).items():
            object.__setattr__(self, name, _typed(name, getattr(self, name), hint))
        if len(self.enc_widths) != 8 or len(self.enc_strides) != 8:
            raise ValueError("enc_widths and enc_strides need eight entries (eight conv layers)")
        if math.prod(self.enc_strides) != 16 or min(self.enc_strides) < 1:
            raise ValueError("enc_strides must downsample by 16 (the decoder upsamples by 16)")
        if self.image_size % 16 or not IMAGE_SIZES[0] <= self.image_size <= IMAGE_SIZES[1]:
            raise ValueError(
                f"image_size must be a multiple of 16 from {IMAGE_SIZES[0]} to {IMAGE_SIZES[1]}, "
                f"got {self.image_size}"
            )
        if len(self.dec_widths) != 6:
            raise ValueError("dec_widths needs six entries (layers 1-6 of the decoder)")
        if not 1 <= len(self.disc_widths) <= MAX_DISC_LAYERS:
            raise ValueError(f"disc_widths needs 1 to {MAX_DISC_LAYERS} entries")
        if not 1 <= self.disc_scales <= MAX_DISC_LAYERS:
            raise ValueError(f"disc_scales must be 1 to {MAX_DISC_LAYERS}, got {self.disc_scales}")
        widths = {
            f"{name}[{i}]": w
            for name in ("enc_widths", "dec_widths", "disc_widths")
            for i, w in enumerate(getattr(self, name))
        }
        for name in ("dec_aux_channels", "proj_hidden", "proj_dim"):
            widths[name] = getattr(self, name)
        for name, width in widths.items():
            if not 1 <= width <= MAX_WIDTH:
                raise ValueError(f"{name} must be 1 to {MAX_WIDTH} channels, got {width}")
        if not 1 <= self.in_channels <= MAX_IN_CHANNELS:
            raise ValueError(f"in_channels must be 1 to {MAX_IN_CHANNELS}, got {self.in_channels}")
        if not len(self.mean) == len(self.std) == self.in_channels or min(self.std) <= 0:
            raise ValueError(
                f"mean and std need one value per input channel ({self.in_channels}), std > 0; "
                f"got {self.mean} and {self.std}"
            )
        if not self.au_names:
            raise ValueError("au_names is empty: a model detects at least one AU")
        for name in self.au_names:
            if name not in AU_NAMES:
                raise ValueError(f"au_names: {reprlib.repr(name)} is not an AU name (AU01 to AU99)")
        twice = [name for name, n in Counter(self.au_names).items() if n > 1]
        if twice:
            raise ValueError(f"au_names lists {twice[0]} more than once")
        if self.au_thresholds is not None and len(self.au_thresholds) != len(self.au_names):
            raise ValueError(
                f"au_thresholds has {len(self.au_thresholds)} values for {len(self.au_names)} AUs"
            )
        if self.au_thresholds is not None and not all(0 <= t <= 1 for t in self.au_thresholds):
            raise ValueError(f"au_thresholds must be in [0, 1], got {self.au_thresholds}")
        if not 0.0 <= self.aux_grad_e_au <= 1.0:
            raise ValueError(f"aux_grad_e_au must be in [0, 1], got {self.aux_grad_e_au}")
        if self.rec_loss not in ("l1", "l2"):
            raise ValueError(f"rec_loss must be 'l1' or 'l2', got {self.rec_loss!r}")
        if self.feature_norm not in ("raw", "batch"):
            raise ValueError(f"feature_norm must be 'raw' or 'batch', got {self.feature_norm!r}")
        if self.norm_stats not in ("real", "all"):
            raise ValueError(f"norm_stats must be 'real' or 'all', got {self.norm_stats!r}")

    @property
    def num_aus(self) -> int:
        return len(self.au_names)

    @property
    def feature_size(self) -> int:
        """Spatial side of the AU and domain feature maps (``image_size / 16``)."""
        return self.image_size // 16

    @property
    def au_channels(self) -> int:
        """Channels of ``a = E_au(x)`` (the encoders' last width)."""
        return self.enc_widths[-1]

    @property
    def dm_channels(self) -> int:
        """Channels of ``d = E_dm(x)``; equal to :attr:`au_channels` (same structure)."""
        return self.enc_widths[-1]

    @property
    def thresholds(self) -> tuple[float, ...]:
        return self.au_thresholds or (0.5,) * self.num_aus

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> D2CAConfig:
        """The config of ``data`` (from JSON: lists for tuples); absent keys take the defaults.

        Raises:
            TypeError: ``data`` is not a dict, or a value has the wrong type.
            ValueError: an unknown key, or a value out of bounds.
        """
        if not isinstance(data, dict):
            raise TypeError(f"a config is a JSON object, got {reprlib.repr(data)}")
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**data)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / CONFIG_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> D2CAConfig:
        path = Path(folder) / CONFIG_NAME
        try:
            if path.stat().st_size > MAX_CONFIG_BYTES:
                raise ValueError(f"{path} is over {MAX_CONFIG_BYTES} bytes: not a D2CA config")
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"no {CONFIG_NAME} in {folder}") from None
        except (json.JSONDecodeError, RecursionError) as e:  # RecursionError: nested too deep
            raise ValueError(f"{path} is not valid JSON: {e}") from None
        return cls.from_dict(data)


def _typed(name: str, value: Any, hint: Any) -> Any:
    """``value`` as the field type ``hint``: lists become tuples, integers floats where a float
    is expected; anything else (a string size, a bool count, a NaN weight) is a TypeError."""
    if isinstance(hint, types.UnionType):  # X | None
        return None if value is None else _typed(name, value, typing.get_args(hint)[0])
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list | tuple):
            raise TypeError(f"{name} must be a list, got {reprlib.repr(value)}")
        item = typing.get_args(hint)[0]
        return tuple(_typed(f"{name}[{i}]", v, item) for i, v in enumerate(value))
    if typing.get_origin(hint) is dict:
        if isinstance(value, dict):
            return value
        raise TypeError(f"{name} must be a JSON object, got {reprlib.repr(value)}")
    if hint in (bool, str) and isinstance(value, hint):
        return value
    if hint is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if hint is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):  # an integer too large for a float
            if math.isfinite(value):
                return float(value)
    raise TypeError(f"{name} must be {_KINDS[hint]}, got {reprlib.repr(value)}")
