"""Face detection: facenet-pytorch's MTCNN, returning :class:`Face` records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from d2ca.face.mtcnn import detect_faces


@dataclass(frozen=True)
class Face:
    """One detected face, in the pixel coordinates of the frame it was found in.

    Attributes:
        box: ``(4,)`` float32 ``x1, y1, x2, y2``.
        score: detection probability in ``[0, 1]``.
        landmarks: ``(5, 2)`` float32 ``(x, y)`` of the left eye, right eye, nose tip, left and
            right mouth corners (left and right as seen in the image).
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray


class FaceDetector:
    """Find every face in RGB frames with MTCNN (weights ship in the facenet-pytorch wheel).

    Args:
        device: torch device for the three MTCNN networks.
        min_face_size: smallest face side, in pixels, searched for. 40 instead of MTCNN's 20
            drops the finest pyramid levels and makes detection about 1.5x faster.
        thresholds: score thresholds of MTCNN's three stages.
        max_side: when set, frames whose longer side exceeds it are downscaled for detection
            (boxes and landmarks are mapped back to full resolution). Halving a 640x480 frame
            makes detection about 3x faster for about 5 px of box error.
        batch_size: frames per MTCNN call. On CPU, 8 is about 15 % faster per frame than 1
            and larger batches mostly cost memory (about 11 MiB more a 640x360 frame); raise it
            on a GPU.
        batched_crops: cut the crops of MTCNN's second and third stages, and the tracker's
            O-Net crops, all at once from the frames' summed-area table
            (:func:`~d2ca.face.mtcnn.detect_faces`) instead of facenet-pytorch's loop of one
            crop and one host read per candidate. ``None``: on a GPU only, where it saves
            that loop's launches and syncs; on a CPU the loop is faster (docs/performance.md).
            The same faces either way.

    Example:
        >>> import skimage.data
        >>> faces = FaceDetector().detect([skimage.data.astronaut()])[0]
        >>> len(faces), faces[0].landmarks.shape
        (1, (5, 2))
    """

    def __init__(
        self,
        device: str = "cpu",
        min_face_size: int = 40,
        thresholds: Sequence[float] = (0.6, 0.7, 0.7),
        max_side: int | None = None,
        batch_size: int = 8,
        batched_crops: bool | None = None,
    ) -> None:
        from facenet_pytorch import MTCNN

        # the arguments, to build the same detector elsewhere (e.g. in a worker process)
        self.settings = {
            "device": str(device),
            "min_face_size": min_face_size,
            "thresholds": tuple(thresholds),
            "max_side": max_side,
            "batch_size": batch_size,
            "batched_crops": batched_crops,
        }
        # keep_all and select_largest=False: every face, ordered by score.
        self.mtcnn = MTCNN(
            min_face_size=min_face_size,
            thresholds=list(thresholds),
            keep_all=True,
            select_largest=False,
            device=device,
        )
        self.thresholds = tuple(float(t) for t in thresholds)
        self.max_side = max_side
        self.batch_size = max(1, batch_size)
        on_gpu = torch.device(device).type != "cpu"
        self.batched_crops = on_gpu if batched_crops is None else bool(batched_crops)

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Face]]:
        """Detect the faces of each frame.

        Args:
            frames: ``H x W x 3`` uint8 RGB arrays; sizes may differ between frames.

        Returns:
            One list per frame, every face found, highest score first; empty for no face.

        Example:
            >>> import numpy as np
            >>> FaceDetector().detect([np.zeros((64, 64, 3), np.uint8)])
            [[]]
        """
        import cv2

        out: list[list[Face]] = [[] for _ in frames]
        # MTCNN batches only frames of one shape; group them (a video has a single group)
        # and cut the groups into chunks of batch_size frames.
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, frame in enumerate(frames):
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(
                    f"frame {i}: expected HxWx3 uint8 RGB, got {frame.shape} {frame.dtype}"
                )
            groups.setdefault(frame.shape, []).append(i)
        chunks = [
            (shape, indices[k : k + self.batch_size])
            for shape, indices in groups.items()
            for k in range(0, len(indices), self.batch_size)
        ]
        for shape, indices in chunks:
            height, width = shape[:2]
            size = (width, height)
            if self.max_side and max(height, width) > self.max_side:
                ratio = self.max_side / max(height, width)
                size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
            if min(size) < self.settings["min_face_size"]:
                continue  # no face of the smallest size searched fits: MTCNN has no pyramid
            # per-axis factors that map detections back to full resolution
            scale = np.array([width / size[0], height / size[1]], dtype=np.float32)
            batch = np.stack(
                [
                    frames[i]
                    if size == (width, height)
                    else cv2.resize(frames[i], size, interpolation=cv2.INTER_AREA)
                    for i in indices
                ]
            )
            for i, (b, pts) in zip(indices, self._mtcnn(batch), strict=True):
                p, b, pts = b[:, 4], b[:, :4] * np.tile(scale, 2), pts * scale
                out[i] = [
                    Face(box=b[k], score=float(p[k]), landmarks=pts[k]) for k in np.argsort(-p)
                ]
        return out

    def _mtcnn(self, batch: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per frame of ``batch``, ``(N, 5)`` boxes with probabilities and ``(N, 5, 2)``
        landmarks, float32. With :attr:`batched_crops` (on a GPU) the candidates' crops are
        cut all at once (:func:`~d2ca.face.mtcnn.detect_faces`: no launches per candidate);
        on a CPU, facenet-pytorch's one-crop-at-a-time loop is the faster."""
        if self.batched_crops:
            return detect_faces(self.mtcnn, batch)
        boxes, probs, points = self.mtcnn.detect(batch, landmarks=True)
        return [
            (np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32))
            if b is None  # no face: numpy 2 gives object arrays holding None
            else (
                np.c_[np.asarray(b, np.float32).reshape(-1, 4), np.asarray(p, np.float32)],
                np.asarray(pts, np.float32).reshape(-1, 5, 2),
            )
            for b, p, pts in zip(boxes, probs, points, strict=True)
        ]
