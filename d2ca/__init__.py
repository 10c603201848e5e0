"""D2CA: doubly contrastive cross-domain facial action unit detection.

>>> from d2ca import D2CA  # doctest: +SKIP
>>> model = D2CA.from_pretrained()  # doctest: +SKIP
>>> model.detect_aus("face.jpg").to_csv("aus.csv")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from d2ca.aus import AU_DESCRIPTIONS, DATASET_AUS, au_name, shared_aus
from d2ca.config import D2CAConfig

__version__ = "0.1.0"
__all__ = ["D2CA", "D2CAConfig", "AU_DESCRIPTIONS", "DATASET_AUS", "au_name", "shared_aus"]

if TYPE_CHECKING:
    from d2ca.inference.pipeline import D2CA


def __getattr__(name: str) -> Any:
    # The facade pulls in torch and facenet-pytorch; import it only when asked for.
    if name == "D2CA":
        from d2ca.inference.pipeline import D2CA

        return D2CA
    raise AttributeError(f"module 'd2ca' has no attribute {name!r}")
