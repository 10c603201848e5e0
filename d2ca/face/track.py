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

Batches: :meth:`FaceTracker.track` takes many frames at once and gives each the faces the
schedule above gives frame by frame, with few network calls. It plans the batch's full
detections as if no track were lost (every ``K``-th frame) and runs MTCNN on all of them in
one call; then it follows the faces from all of them at once, through the ``K - 1`` frames
after each: one O-Net call per pass and step for every stretch of the batch. Where a track
is lost, or a full detection finds no face, the plan is redone from that frame. On a GPU the
frames and boxes stay on the device through the stretches (all crops resampled at once
from summed-area tables instead of one at a time), with one copy back to the host per plan.

Face ids: a face keeps its id while it is tracked; a full detection gives each face the id of
the face whose last box it overlaps most (IoU at least ``min_iou``), else a new id.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from d2ca.face.detect import Face, FaceDetector
from d2ca.face.mtcnn import area_crops, summed_area_table

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
        self.full_detections = 0  # frames whose faces come from full MTCNN (reports, tests)
        self._ids = _IdKeeper(min_iou)
        # faces of the last frame with their ids, in the order O-Net follows them
        self._tracks: list[tuple[int, Face]] = []
        self._since_detection = 0

    def track(self, frames: Sequence[np.ndarray]) -> list[list[tuple[int, Face]]]:
        """The ``(face_id, face)`` pairs of each frame, highest detection score first.

        Frames continue the video from the previous call; all have one shape.
        """
        frames = list(frames)
        if self.keyframe_interval == 1:
            self.full_detections += len(frames)
            return [self._detected(faces) for faces in self.detector.detect(frames)]
        ahead = _Lookahead(self, frames)
        out: list[list[tuple[int, Face]]] = []
        i = 0
        while i < len(frames):
            if self._tracks and self._since_detection < self.keyframe_interval:
                for faces in ahead.followed(i):
                    followed = self._checked(faces)
                    if followed is None:
                        break  # a track is lost: full detection on this frame
                    self._since_detection += 1
                    self._tracks = followed
                    out.append(sorted(followed, key=lambda pair: -pair[1].score))
                    i += 1
                else:
                    continue
            faces = ahead.detected(i)  # before counting it: the count steers the plan
            self.full_detections += 1
            self._since_detection = 1
            self._tracks = self._detected(faces)
            out.append(self._tracks)
            i += 1
        return out

    def _detected(self, faces: list[Face]) -> list[tuple[int, Face]]:
        return list(zip(self._ids.assign(faces), faces, strict=True))

    def _checked(self, faces: list[Face]) -> list[tuple[int, Face]] | None:
        """The tracked faces as O-Net followed them into this frame, or ``None`` if one is lost."""
        threshold = self.detector.thresholds[-1]
        out = []
        for (face_id, before), face in zip(self._tracks, faces, strict=True):
            if face.score < threshold or _iou(face.box, before.box) < self.min_iou:
                return None
            out.append((face_id, face))
        self._ids.keep(out)
        return out


class _Lookahead:
    """The full detections and O-Net stretches of one batch of frames, computed in batches
    ahead of :meth:`FaceTracker.track`'s frame-by-frame walk, as the tracker's state plans them.

    ``stretches[s]``: the faces followed through frames ``s, s + 1, ...`` from the faces of
    frame ``s - 1`` (its full detection, or the tracks the batch started with when ``s = 0``),
    in the order of those faces; the walk stops where a track is lost.
    """

    def __init__(self, tracker: FaceTracker, frames: list[np.ndarray]) -> None:
        self.tracker = tracker
        self.frames = frames
        self.detections: dict[int, list[Face]] = {}
        self.stretches: dict[int, list[list[Face]]] = {}
        self._table: torch.Tensor | None = None  # the frames' summed-area table, on the GPU

    def detected(self, i: int) -> list[Face]:
        if i not in self.detections:
            self._plan(i, follow=False)
        return self.detections[i]

    def followed(self, i: int) -> list[list[Face]]:
        if i not in self.stretches:
            self._plan(i, follow=True)
        return self.stretches[i]

    def _plan(self, i: int, follow: bool) -> None:
        """Detect and follow ahead from frame ``i``, which the tracks follow into or which
        gets a full detection, assuming no track is lost from here on."""
        tracker, n, k = self.tracker, len(self.frames), self.tracker.keyframe_interval
        first = i + k - tracker._since_detection if follow else i
        if not follow and not tracker._tracks and tracker.full_detections:
            keys = range(i, n)  # the last full detection found no face: every frame gets one
        else:
            keys = range(first, n, k)
        todo = [j for j in keys if j not in self.detections]
        if todo:
            found = tracker.detector.detect([self.frames[j] for j in todo])
            self.detections.update(zip(todo, found, strict=True))
        starts = []  # (first frame, boxes of the frame before, frames to follow)
        if follow:
            boxes = [face.box for _, face in tracker._tracks]
            starts.append((i, boxes, k - tracker._since_detection))
        j = first
        while j < n and j in self.detections:  # the full detections the walk will use
            faces = self.detections[j]
            if faces:
                starts.append((j + 1, [face.box for face in faces], k - 1))
            j += k if faces else 1
        starts = [
            (s, boxes, min(length, n - s))
            for s, boxes, length in starts
            if s < n and s not in self.stretches
        ]
        if starts:
            self.stretches.update(self._follow(starts))

    def _follow(
        self, starts: list[tuple[int, list[np.ndarray], int]]
    ) -> dict[int, list[list[Face]]]:
        """O-Net stretches, longest first, all stretches' faces in one O-Net call per pass and
        step; on a GPU with nothing copied to the host until the end."""
        detector = self.tracker.detector
        device = next(detector.mtcnn.onet.parameters()).device
        images = self._images(device)
        starts = sorted(starts, key=lambda start: -start[2])  # the live ones: a prefix
        counts = [len(boxes) for _, boxes, _ in starts]
        # rows of each step: the faces of the stretches still going, and their frames
        live = [
            [c for c, (*_, length) in enumerate(starts) if length > step]
            for step in range(starts[0][2])
        ]
        rows = [sum(counts[c] for c in chains) for chains in live]
        index = np.concatenate(
            [
                np.repeat([s + step for s, *_ in starts[: len(chains)]], counts[: len(chains)])
                for step, chains in enumerate(live)
            ]
        )
        boxes0 = np.concatenate([np.stack(boxes) for _, boxes, _ in starts]).astype(np.float32)
        index_t = torch.from_numpy(index).to(device)  # two uploads, before any work is queued
        boxes = torch.from_numpy(boxes0).to(device)
        outputs = []
        with torch.inference_mode():
            offset = 0
            for n_rows in rows:
                frame_index = index_t[offset : offset + n_rows]
                boxes = boxes[:n_rows]
                moved, _, _ = _onet(detector, images, frame_index, boxes)
                boxes, score, landmarks = _onet(detector, images, frame_index, moved)
                outputs.append(torch.cat([boxes, score[:, None], landmarks.flatten(1)], 1))
                offset += n_rows
            found = torch.cat(outputs).float().cpu().numpy()  # the one copy to the host
        out: dict[int, list[list[Face]]] = {s: [] for s, _, _ in starts}
        offset = 0
        for chains in live:
            for c in chains:
                part = found[offset : offset + counts[c]]
                out[starts[c][0]].append(_faces(part[:, :4], part[:, 4], part[:, 5:]))
                offset += counts[c]
        return out

    def _images(self, device: torch.device) -> list[np.ndarray] | torch.Tensor:
        """The frames as O-Net's crops read them: the arrays; with the detector's
        ``batched_crops`` (on a GPU), the batch's frames uploaded once, as their summed-area
        table on the device."""
        if not self.tracker.detector.batched_crops:
            return self.frames
        if self._table is None:
            self._table = summed_area_table(torch.from_numpy(np.stack(self.frames)).to(device))
        return self._table


def _faces(boxes: np.ndarray, scores: np.ndarray, landmarks: np.ndarray) -> list[Face]:
    return [
        Face(box=box, score=float(score), landmarks=points.reshape(5, 2))
        for box, score, points in zip(boxes, scores, landmarks, strict=True)
    ]


def onet_refine(detector: FaceDetector, frame: np.ndarray, boxes: np.ndarray) -> list[Face]:
    """MTCNN's third stage on squares around ``boxes``: refined boxes, scores, landmarks.

    This is what MTCNN does with R-Net's candidate boxes (``detect_face``'s third stage,
    same crops, resampling and arithmetic), with the previous frame's boxes as candidates.

    Args:
        detector: whose O-Net runs, on its device.
        frame: ``H x W x 3`` uint8 RGB.
        boxes: ``(N, 4)`` ``x1, y1, x2, y2`` in ``frame``'s pixels.
    """
    device = next(detector.mtcnn.onet.parameters()).device
    boxes_t = torch.as_tensor(np.asarray(boxes, np.float32), device=device).reshape(-1, 4)
    index = torch.zeros(len(boxes_t), dtype=torch.long, device=device)
    with torch.inference_mode():
        found = _onet(detector, [frame], index, boxes_t)
    box, score, landmarks = (t.float().cpu().numpy() for t in found)
    return _faces(box, score, landmarks)


def _onet(
    detector: FaceDetector,
    images: Sequence[np.ndarray] | torch.Tensor,
    index: torch.Tensor,
    boxes: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """O-Net on squares around ``boxes`` (``(N, 4)``) in frames ``images[index]``: refined
    boxes ``(N, 4)``, face probabilities ``(N,)`` and landmarks ``(N, 5, 2)``, on the device.

    ``images`` is a list of ``H x W x 3`` uint8 arrays (crops cut on the host, one at a time)
    or the frames' summed-area table on O-Net's device (all crops at once, :func:`area_crops`).
    """
    onet = detector.mtcnn.onet
    param = next(onet.parameters())
    square = _square(boxes)
    if isinstance(images, torch.Tensor):
        x = _area_crops(images, index, square).to(param)
    else:
        x = torch.cat(  # area resampling to 48 x 48, one crop at a time: crops differ in size
            [
                F.interpolate(
                    torch.from_numpy(_crop(images[f], bounds)).permute(2, 0, 1)[None].to(param),
                    size=(ONET_SIZE, ONET_SIZE),
                    mode="area",
                )
                for f, bounds in zip(index.tolist(), _crop_bounds(square).tolist(), strict=True)
            ]
        )
    # channels-last: the same outputs (to float rounding), and O-Net about 2.5x faster on
    # a CPU, where its max-pooling of channels-first maps costs more than its convolutions
    x = ((x - 127.5) * 0.0078125).contiguous(memory_format=torch.channels_last)
    reg, points, prob = onet(x)
    reg, points = reg.float(), points.float()
    size = square[:, 2:] - square[:, :2] + 1  # MTCNN's width and height convention
    landmarks = torch.stack([points[:, :5], points[:, 5:]], dim=2) * size[:, None] + (
        square[:, None, :2] - 1
    )
    return square + reg * size.repeat(1, 2), prob[:, 1].float(), landmarks


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Squares with the boxes' centres and longer sides (MTCNN's ``rerec``)."""
    side = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[:, None]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    return torch.cat([centre - side / 2, centre + side / 2], dim=1)


def _crop_bounds(square: torch.Tensor) -> torch.Tensor:
    """``(N, 4)`` int64 ``x1, y1, x2, y2``: the pixels ``x1 .. x2 - 1`` and ``y1 .. y2 - 1``
    MTCNN crops for a square (``trunc(x1) - 1 .. trunc(x2) - 1``, at least one pixel)."""
    bounds = square.trunc().long()  # truncation, as MTCNN's pad() does
    low = bounds[:, :2] - 1
    return torch.cat([low, torch.maximum(bounds[:, 2:], low + 1)], dim=1)


def _crop(frame: np.ndarray, bounds: Sequence[int]) -> np.ndarray:
    """The pixels within ``bounds`` (a row of :func:`_crop_bounds`); zeros outside the frame."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = bounds
    out = np.zeros((y2 - y1, x2 - x1, 3), np.uint8)
    cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if cx2 > cx1 and cy2 > cy1:
        out[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1] = frame[cy1:cy2, cx1:cx2]
    return out


def _area_crops(table: torch.Tensor, index: torch.Tensor, square: torch.Tensor) -> torch.Tensor:
    """The crops of :func:`_crop` resampled to ``48 x 48`` by area, as ``F.interpolate``
    does, for all squares at once, from the frames' :func:`summed_area_table`:
    ``(N, 3, 48, 48)`` float32, on the table's device."""
    # boxes far outside the frame are lost tracks; clamping keeps their integers small
    limit = 4 * max(table.shape[1:3])
    return area_crops(table, index, _crop_bounds(square.clamp(-limit, limit)), ONET_SIZE)


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
