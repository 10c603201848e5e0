"""Alignment of a face to a five-point template, and pasting an aligned crop back."""

from __future__ import annotations

import numpy as np

# The ArcFace five points (left eye, right eye, nose tip, left and right mouth corners) in a
# 112 x 112 crop: the usual canonical face shape.
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)

# ArcFace's crop cuts through the chin and the top of the brows, which carry AU17 and
# AU01/02/04. Shrinking the template to 80 % about the crop's centre keeps brows, forehead
# and chin inside (see docs/usage.md, "Alignment").
CROP_SCALE = 0.8


def face_template(size: int, scale: float = CROP_SCALE) -> np.ndarray:
    """The five template points, ``(5, 2)`` float32, for a ``size x size`` crop.

    Example:
        >>> [round(float(v), 2) for v in face_template(112, scale=1.0)[0]]
        [38.29, 51.7]
    """
    centred = (ARCFACE_TEMPLATE_112 - 56.0) * scale + 56.0
    return (centred * (size / 112.0)).astype(np.float32)


def align_face(
    image: np.ndarray, landmarks: np.ndarray, size: int = 128, *, scale: float = CROP_SCALE
) -> tuple[np.ndarray, np.ndarray]:
    """Warp a face onto the template with a similarity transform (rotation, scale, shift).

    Args:
        image: ``H x W x 3`` uint8 RGB.
        landmarks: ``(5, 2)`` points in :class:`~d2ca.face.Face` order.
        size: side of the square crop (the model's ``image_size``).
        scale: template scale about the crop centre (1.0 is ArcFace's tight crop).

    Returns:
        ``(crop, matrix)``: the ``size x size x 3`` uint8 crop and the ``2 x 3`` matrix that
        maps image coordinates to crop coordinates.

    Example:
        >>> import skimage.data
        >>> from d2ca.face import FaceDetector
        >>> image = skimage.data.astronaut()
        >>> face = FaceDetector().detect([image])[0][0]
        >>> crop, matrix = align_face(image, face.landmarks, size=128)
        >>> crop.shape, matrix.shape
        ((128, 128, 3), (2, 3))
    """
    import cv2

    src = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    # LMEDS, not the default RANSAC: RANSAC can reject both mouth points and fit worse.
    matrix, _ = cv2.estimateAffinePartial2D(src, face_template(size, scale), method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("landmarks are degenerate: no similarity transform fits them")
    crop = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return crop, matrix.astype(np.float32)


def paste_back(
    image: np.ndarray, crop: np.ndarray, matrix: np.ndarray, feather: float | None = None
) -> np.ndarray:
    """Warp an aligned crop back into ``image`` and blend it in with a feathered mask.

    Args:
        image: the ``H x W x 3`` uint8 image the crop was aligned from (not modified).
        crop: ``S x S x 3`` uint8 crop, e.g. a synthesised face.
        matrix: the ``2 x 3`` matrix :func:`align_face` returned for ``image``.
        feather: width, in crop pixels, over which the mask fades to zero at the crop's
            border; default ``S / 10``.

    Returns:
        A new image; pixels outside the crop's footprint are exactly those of ``image``.

    Example:
        >>> import numpy as np
        >>> image = np.zeros((100, 100, 3), np.uint8)
        >>> matrix = np.array([[1, 0, -20], [0, 1, -20]], np.float32)  # crop at (20, 20)
        >>> out = paste_back(image, np.full((40, 40, 3), 255, np.uint8), matrix, feather=4)
        >>> int(out[40, 40, 0]), int(out[5, 5, 0])
        (255, 0)
    """
    import cv2

    size = crop.shape[0]
    feather = size / 10 if feather is None else feather
    # Mask: 0 on the crop's border pixels, rising smoothly to 1 over `feather` pixels, so
    # no seam shows and nothing outside the crop's footprint changes.
    if feather > 0:
        index = np.arange(size, dtype=np.float32)
        ramp = np.clip(np.minimum(index, size - 1 - index) / feather, 0.0, 1.0)
        ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep
        mask = np.minimum.outer(ramp, ramp)
    else:
        mask = np.ones((size, size), np.float32)
    height, width = image.shape[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(crop, matrix, (width, height), flags=flags, borderValue=0)
    alpha = cv2.warpAffine(mask, matrix, (width, height), flags=flags, borderValue=0)[..., None]
    blended = image.astype(np.float32) * (1.0 - alpha) + warped.astype(np.float32) * alpha
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
