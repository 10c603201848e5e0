"""SynthAU: procedurally rendered faces with known AU intensities, identities and domains.

A face is a 2.5D model: an ellipsoid head with Gaussian bumps (nose, cheeks, brow ridge,
chin) gives depth and Lambertian shading; eyes, brows, lips, nostrils and creases are
anti-aliased polygons and strokes drawn on the skin. Every landmark has a depth, so head
pose is a true rotation followed by an orthographic projection. The 12 BP4D AUs are
localised deformations of the landmarks, the creases and the bumps (FACS, see
``docs/synthau.md``); a domain (:data:`PRESETS`) sets the distributions of pose, light,
background, occluders, camera and AU base rates.

Everything is deterministic: identities come from ``default_rng((seed, domain, subject))``,
frames from ``default_rng((seed, domain, subject, frame, 1))``, so pixels and labels do not
depend on batch order or worker count.

Example:
    >>> import numpy as np
    >>> from d2ca.data.synth import PRESETS, render_face, sample_aus, sample_identity, sample_scene
    >>> rng = np.random.default_rng(0)
    >>> preset = PRESETS["wild"]
    >>> face = render_face(sample_identity(rng, preset), sample_aus(rng, preset),
    ...                    sample_scene(rng, preset), size=64)
    >>> face.shape, face.dtype
    ((64, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# the palettes and prototypes stay importable from here, outside __all__ as before
from d2ca.data.synth.presets import HAIR_PALETTE as HAIR_PALETTE
from d2ca.data.synth.presets import IRIS_PALETTE as IRIS_PALETTE
from d2ca.data.synth.presets import PRESETS, Preset
from d2ca.data.synth.presets import PROTOTYPES as PROTOTYPES
from d2ca.data.synth.presets import SKIN_PALETTE as SKIN_PALETTE

__all__ = [
    "AUS",
    "PRESETS",
    "Identity",
    "Preset",
    "Scene",
    "face_landmarks",
    "frame_factors",
    "render_dataset",
    "render_face",
    "sample_aus",
    "sample_identity",
    "sample_scene",
]

if TYPE_CHECKING:
    from d2ca.data.synth.camera import face_landmarks
    from d2ca.data.synth.dataset import frame_factors, render_dataset
    from d2ca.data.synth.render import render_face
    from d2ca.data.synth.sampling import (
        AUS,
        Identity,
        Scene,
        sample_aus,
        sample_identity,
        sample_scene,
    )

# The CLI imports PRESETS at start-up (the old module's constants outside __all__ stay
# importable from here too); the other modules cost import time (the renderer pulls
# in OpenCV and tqdm): import them only when one of their names is asked for.
_LAZY = {
    "AUS": "sampling",
    "HAIR_STYLES": "sampling",
    "OCCLUDERS": "sampling",
    "Identity": "sampling",
    "Scene": "sampling",
    "sample_aus": "sampling",
    "sample_identity": "sampling",
    "sample_scene": "sampling",
    "face_landmarks": "camera",
    "LABEL_THRESHOLD": "dataset",
    "frame_factors": "dataset",
    "render_dataset": "dataset",
    "render_face": "render",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"d2ca.data.synth.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'd2ca.data.synth' has no attribute {name!r}")
