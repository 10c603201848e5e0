"""Faces followed through the frames of a video, with ids that stay on each face.

Full MTCNN (three networks over an image pyramid) is the expensive part of AU detection on
video. Between two full detections, :class:`FaceTracker` follows each face from the previous
frame's box with MTCNN's last stage alone, O-Net, on a crop around that box: O-Net refines the
box, predicts the five landmarks and scores the crop as face or not. It runs twice per face
and frame: the first pass moves the box onto the face where it is now, the second predicts
the landmarks from a box centred on the face, as full MTCNN's O-Net input is (one pass leaves
landmarks about 1.2x further from per-frame detection's; docs/performance.md). That costs a
few milliseconds a face on a CPU instead of the pyramid's tens of milliseconds a frame.

Schedule (``keyframe_interval = K``): full detection on the first frame, every ``K``-th
frame after a full detection, and on any frame where a track is lost; in between, O-Net
follows the faces. A track is lost when O-Net's face probability on its crop falls below
the detector's last-stage threshold (0.7 by default), or the refined box no longer overlaps
the previous one (IoU below ``min_iou``): the face left, turned away or was occluded. While
no face is tracked, every frame gets a full detection, so a face that comes back is found at
once; a new face that enters while another is tracked is found at the next full detection,
within ``K`` frames. ``keyframe_interval=1`` is plain per-frame detection.

Face ids: a face keeps its id while it is tracked; a full detection gives each face the id of
the face whose last box it overlaps most (IoU at least ``min_iou``), else a new id.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from d2ca.face.detect import Face, FaceDetector

ONET_SIZE = 48
# Full detections are this many analysed frames apart (docs/performance.md, "Tracking":
# frame rate and landmark difference from per-frame detection at several intervals).
KEYFRAME_INTERVAL = 5  # meets both goals of docs/performance.md on both of its videos


class FaceTracker:
    """Faces and face ids in consecutive frames of one video.

    Args:
        detector: the full detector; its O-Net follows faces between full detections.
        keyframe_interval: ``K``, frames from one full detection to the next; 1 detects
            every frame (batched, ``detector.batch_size`` frames per MTCNN call).
        min_iou: box overlap that keeps a face's id, and below which a followed face counts
            as lost.

    Example:
        >>> tracker = FaceTracker(FaceDetector(), keyframe_interval=10)  # doctest: +SKIP
        >>> for faces in tracker.track(frames):  # doctest: +SKIP
        ...     print([(face_id, face.box) for face_id, face in faces])
    """

    def __init__(
        self,
        detector: FaceDetector,
        keyframe_interval: int = KEYFRAME_INTERVAL,
        min_iou: float = 0.3,
    ) -> None:
        if keyframe_interval < 1:
            raise ValueError(f"keyframe_interval must be at least 1, got {keyframe_interval}")
        self.detector = detector
        self.keyframe_interval = keyframe_interval
        self.min_iou = min_iou
        self.full_detections = 0  # frames that got a full MTCNN pass (for reports and tests)
        self._ids = _IdKeeper(min_iou)
        self._tracks: list[tuple[int, Face]] = []  # faces of the last frame, with their ids
        self._since_detection = 0

    def track(self, frames: Sequence[np.ndarray]) -> list[list[tuple[int, Face]]]:
        """The ``(face_id, face)`` pairs of each frame, highest detection score first.

        Frames continue the video from the previous call.
        """
        if self.keyframe_interval == 1:
            self.full_detections += len(frames)
            return [self._detected(faces) for faces in self.detector.detect(list(frames))]
        return [self._step(frame) for frame in frames]

    def _step(self, frame: np.ndarray) -> list[tuple[int, Face]]:
        if self._tracks and self._since_detection < self.keyframe_interval:
            followed = self._follow(frame)
            if followed is not None:
                self._since_detection += 1
                self._tracks = followed
                return followed
        self.full_detections += 1
        self._since_detection = 1
        self._tracks = self._detected(self.detector.detect([frame])[0])
        return self._tracks

    def _detected(self, faces: list[Face]) -> list[tuple[int, Face]]:
        return list(zip(self._ids.assign(faces), faces, strict=True))

    def _follow(self, frame: np.ndarray) -> list[tuple[int, Face]] | None:
        """Every tracked face refined by O-Net in ``frame``, or ``None`` if one is lost."""
        previous = np.stack([face.box for _, face in self._tracks])
        moved = np.stack([face.box for face in onet_refine(self.detector, frame, previous)])
        refined = onet_refine(self.detector, frame, moved)
        threshold = self.detector.thresholds[-1]
        out = []
        for (face_id, _), box_before, face in zip(self._tracks, previous, refined, strict=True):
            if face.score < threshold or _iou(face.box, box_before) < self.min_iou:
                return None
            out.append((face_id, face))
        self._ids.keep(out)
        return sorted(out, key=lambda pair: -pair[1].score)


def onet_refine(detector: FaceDetector, frame: np.ndarray, boxes: np.ndarray) -> list[Face]:
    """MTCNN's third stage on squares around ``boxes``: refined boxes, scores, landmarks.

    This is what MTCNN does with R-Net's candidate boxes (``detect_face``'s third stage,
    same crops, resampling and arithmetic), with the previous frame's boxes as candidates.

    Args:
        detector: whose O-Net runs, on its device.
        frame: ``H x W x 3`` uint8 RGB.
        boxes: ``(N, 4)`` ``x1, y1, x2, y2`` in ``frame``'s pixels.
    """
    import torch
    import torch.nn.functional as F

    square = _square(np.asarray(boxes, np.float32))
    onet = detector.mtcnn.onet
    param = next(onet.parameters())
    with torch.inference_mode():
        # area resampling to 48 x 48, one crop at a time: crops differ in size
        x = torch.cat(
            [
                F.interpolate(
                    torch.from_numpy(_crop(frame, box)).permute(2, 0, 1)[None].to(param),
                    size=(ONET_SIZE, ONET_SIZE),
                    mode="area",
                )
                for box in square
            ]
        )
        # channels-last: the same outputs (to float rounding), and O-Net about 2.5x faster on
        # a CPU, where its max-pooling of channels-first maps costs more than its convolutions
        x = ((x - 127.5) * 0.0078125).contiguous(memory_format=torch.channels_last)
        reg, points, prob = onet(x)
    reg, points = reg.float().cpu().numpy(), points.float().cpu().numpy()
    score = prob[:, 1].float().cpu().numpy()
    size = square[:, 2:] - square[:, :2] + 1  # MTCNN's width and height convention
    landmarks = np.stack([points[:, :5], points[:, 5:]], axis=2) * size[:, None] + (
        square[:, None, :2] - 1
    )
    refined = square + reg * np.tile(size, 2)
    return [
        Face(box=refined[k].astype(np.float32), score=float(score[k]), landmarks=landmarks[k])
        for k in range(len(square))
    ]


def _square(boxes: np.ndarray) -> np.ndarray:
    """Squares with the boxes' centres and longer sides (MTCNN's ``rerec``)."""
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    return np.concatenate([centre - side[:, None] / 2, centre + side[:, None] / 2], axis=1)


def _crop(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Pixels ``trunc(x1) - 1 .. trunc(x2) - 1`` (MTCNN's crop); zeros outside the frame."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = (int(v) for v in box)  # int() truncates, as MTCNN's pad() does
    x1, y1 = x1 - 1, y1 - 1
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    out = np.zeros((y2 - y1, x2 - x1, 3), np.uint8)
    cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if cx2 > cx1 and cy2 > cy1:
        out[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1] = frame[cy1:cy2, cx1:cx2]
    return out


class _IdKeeper:
    """Face ids by greedy box-IoU matching against the last box seen of every id."""

    def __init__(self, min_iou: float) -> None:
        self.min_iou = min_iou
        self.boxes: dict[int, np.ndarray] = {}  # id -> last box seen
        self.next_id = 0

    def assign(self, faces: Sequence[Face]) -> list[int]:
        pairs = sorted(
            (
                (_iou(face.box, box), i, fid)
                for i, face in enumerate(faces)
                for fid, box in self.boxes.items()
            ),
            key=lambda p: -p[0],
        )
        ids = [-1] * len(faces)
        taken: set[int] = set()
        for overlap, i, fid in pairs:
            if overlap < self.min_iou:
                break
            if ids[i] < 0 and fid not in taken:
                ids[i] = fid
                taken.add(fid)
        for i in range(len(faces)):
            if ids[i] < 0:
                ids[i] = self.next_id
                self.next_id += 1
        self.keep(list(zip(ids, faces, strict=True)))
        return ids

    def keep(self, faces: Sequence[tuple[int, Face]]) -> None:
        for face_id, face in faces:
            self.boxes[face_id] = face.box


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
