"""Tracking against per-frame detection on a video of a real photograph (skimage's astronaut):
one face stays put, another enters on the left, crosses the picture and leaves on the right."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from _inference import small_model

from d2ca.data.media import iter_video
from d2ca.face import FaceDetector, FaceTracker, track
from d2ca.face.mtcnn import summed_area_table
from d2ca.face.track import onet_refine
from d2ca.inference.pipeline import D2CA

SIDE, BAND, STEP, FRAMES, K = 240, 120, 16, 47, 5
# In a 240 x 240 astronaut her face spans about x 84-126 (the photo's 180-268, scaled).
FACE_X = (84, 126)


def moving_x(i: int) -> int:
    return -SIDE + STEP * i  # left edge of the moving photograph in frame i


def write_video(path: Path) -> Path:
    """480 x 240: the top band shows her head still (mirrored), the bottom band moving."""
    head = cv2.resize(skimage.data.astronaut(), (SIDE, SIDE))[:BAND, :, ::-1]  # BGR, face+hair
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (2 * SIDE, SIDE))
    for i in range(FRAMES):
        frame = np.full((SIDE, 2 * SIDE, 3), 60, np.uint8)
        frame[:BAND, SIDE // 2 : SIDE // 2 + SIDE] = head[:, ::-1]  # the face that stays
        x = moving_x(i)
        lo, hi = max(x, 0), min(x + SIDE, 2 * SIDE)
        if hi > lo:
            frame[BAND:, lo:hi] = head[:, lo - x : hi - x]
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    video = write_video(tmp_path_factory.mktemp("track") / "cross.mp4")
    return [frame.image for frame in iter_video(video)]


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(min_face_size=40)


def split(per_frame: list[list[tuple[int, object]]]) -> tuple[dict, dict]:
    """Faces of the static (top) and the moving (bottom) photograph, by frame."""
    top, bottom = {}, {}
    for i, faces in enumerate(per_frame):
        for face_id, face in faces:
            (top if face.box[1] < BAND else bottom)[i] = (face_id, face)
    return top, bottom


@pytest.fixture(scope="module")
def runs(frames, detector) -> dict:
    reference = FaceTracker(detector, keyframe_interval=1)
    tracker = FaceTracker(detector, keyframe_interval=K)
    return {
        "detected": split(reference.track(frames)),
        "tracked": split(tracker.track(frames)),
        "full_detections": tracker.full_detections,
    }


def test_tracking_runs_full_detection_on_few_frames(runs) -> None:
    # every K-th frame, plus a few where a track is lost (the moving face leaving)
    assert runs["full_detections"] <= FRAMES / K + 6


def test_landmarks_stay_close_to_per_frame_detection(runs) -> None:
    differences = []
    for detected, tracked in zip(runs["detected"], runs["tracked"], strict=True):
        for i in sorted(set(detected) & set(tracked)):
            ref, ours = detected[i][1].landmarks, tracked[i][1].landmarks
            inter_ocular = np.linalg.norm(ref[0] - ref[1])
            differences.append(np.linalg.norm(ours - ref, axis=1) / inter_ocular)
    differences = np.concatenate(differences)
    assert len(differences) > 5 * 50
    # per-frame MTCNN differs from itself by about 2 % on a frame shifted by 1-3 pixels
    assert np.median(differences) < 0.035
    assert np.percentile(differences, 95) < 0.10


def test_static_face_keeps_one_id(runs) -> None:
    (top_detected, _), (top_tracked, _) = runs["detected"], runs["tracked"]
    assert sorted(top_detected) == sorted(top_tracked) == list(range(FRAMES))
    assert {face_id for face_id, _ in top_tracked.values()} == {0}


def test_entering_face_is_found_within_k_frames_and_ends_when_it_leaves(runs) -> None:
    (_, bottom_detected), (_, bottom_tracked) = runs["detected"], runs["tracked"]
    first = min(bottom_detected)  # per-frame detection's first sight of the entering face
    assert moving_x(first) + FACE_X[0] > -20  # sanity: her face is (nearly) in the picture
    assert first <= min(bottom_tracked) < first + K
    # one track, one id, from its first frame until it leaves
    assert {face_id for face_id, _ in bottom_tracked.values()} == {1}
    seen = sorted(bottom_tracked)
    assert seen == list(range(seen[0], seen[-1] + 1))
    # no face is reported once hers is wholly outside the picture
    gone = [i for i in range(FRAMES) if moving_x(i) + FACE_X[0] >= 2 * SIDE]
    assert gone and not set(gone) & set(bottom_tracked)
    assert max(bottom_tracked) >= max(bottom_detected) - 2  # followed until about the end


def test_detect_aus_tracks_video_faces_by_default(runs, detector, tmp_path) -> None:
    video = write_video(tmp_path / "cross.mp4")
    pipeline = D2CA(small_model(), detector=detector)
    rows = pipeline.detect_aus(video, keyframe_interval=K).rows
    (_, _), (top, bottom) = runs["detected"], runs["tracked"]
    assert [r.frame for r in rows if r.face_id == 0] == list(range(FRAMES))
    assert {r.frame for r in rows if r.face_id == 1} == set(bottom)
    for row in rows:  # the tracker's faces, row by row
        if row.success:
            face = (top if row.face_id == 0 else bottom)[row.frame][1]
            np.testing.assert_allclose(row.face.landmarks, face.landmarks, atol=1e-4)


def test_onet_pass_gives_what_onet_gives_on_channels_first_input(frames, detector, monkeypatch):
    """The tracker feeds O-Net channels-last (faster on a CPU); same boxes, scores, landmarks."""
    import torch

    class ChannelsFirst(torch.nn.Module):  # O-Net as MTCNN itself calls it
        def __init__(self, onet: torch.nn.Module) -> None:
            super().__init__()
            self.onet = onet

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return self.onet(x.contiguous())

    boxes = np.stack([face.box for face in detector.detect([frames[20]])[0]])
    boxes = np.concatenate([boxes, boxes + [3.7, -2.2, 3.7, -2.2]])  # off-centre crops too
    ours = onet_refine(detector, frames[20], boxes)
    monkeypatch.setattr(detector.mtcnn, "onet", ChannelsFirst(detector.mtcnn.onet))
    reference = onet_refine(detector, frames[20], boxes)
    assert len(ours) == len(reference) == len(boxes)
    for a, b in zip(ours, reference, strict=True):
        np.testing.assert_allclose(a.box, b.box, atol=1e-3)
        np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-3)
        assert abs(a.score - b.score) < 1e-5


def _counting(monkeypatch, detector) -> dict[str, int]:
    """Count full MTCNN calls (and the frames they get) and O-Net passes from here on."""
    calls = {"mtcnn": 0, "mtcnn_frames": 0, "onet": 0}
    detect, onet = detector.detect, track._onet

    def counted_detect(frames):
        calls["mtcnn"] += 1
        calls["mtcnn_frames"] += len(frames)
        return detect(frames)

    def counted_onet(*args):
        calls["onet"] += 1
        return onet(*args)

    monkeypatch.setattr(detector, "detect", counted_detect)
    monkeypatch.setattr(track, "_onet", counted_onet)
    return calls


def _same_faces(ours: list, reference: list, atol: float) -> None:
    assert len(ours) == len(reference)
    for faces, expected in zip(ours, reference, strict=True):
        assert [face_id for face_id, _ in faces] == [face_id for face_id, _ in expected]
        for (_, a), (_, b) in zip(faces, expected, strict=True):
            np.testing.assert_allclose(a.box, b.box, atol=atol)
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=atol)
            assert a.score == pytest.approx(b.score, abs=1e-5)


@pytest.mark.parametrize("k", [3, K])
def test_batches_give_the_faces_of_frame_by_frame_tracking(frames, k, monkeypatch) -> None:
    """Batches are tracked with planned full detections and O-Net stretches batched across
    the batch; each frame gets the faces, ids and full detections that tracking frame by frame
    gives (to float rounding: MTCNN and O-Net see other batch sizes), with far fewer calls,
    also where tracks are lost (the moving face leaving) and a face enters."""
    detector = FaceDetector(min_face_size=40)
    calls = _counting(monkeypatch, detector)
    one = FaceTracker(detector, keyframe_interval=k)
    reference = [one.track([frame])[0] for frame in frames]
    frame_by_frame = dict(calls)
    for chunk in (7, FRAMES):
        calls.update(mtcnn=0, mtcnn_frames=0, onet=0)
        tracker = FaceTracker(detector, keyframe_interval=k)
        tracked = [
            faces for i in range(0, FRAMES, chunk) for faces in tracker.track(frames[i : i + chunk])
        ]
        assert tracker.full_detections == one.full_detections
        _same_faces(tracked, reference, atol=1e-3)
        if chunk == FRAMES:  # the whole video in one batch
            assert calls["mtcnn"] <= frame_by_frame["mtcnn"] / 3
            assert calls["mtcnn_frames"] <= frame_by_frame["mtcnn_frames"] + 3  # few wasted
            assert calls["onet"] <= frame_by_frame["onet"] / 3


def test_device_crops_equal_the_host_crops(frames) -> None:
    """The GPU's crops (matrix products over the frame) are the host's crops (zeros outside
    the frame) resampled by area: squares inside the frame, across its edges, smaller than
    O-Net's 48 pixels, larger than the frame, and a degenerate one."""
    import torch
    import torch.nn.functional as F

    boxes = torch.tensor(
        [
            [100.0, 30.0, 180.0, 110.0],
            [-30.7, -20.2, 40.4, 50.9],
            [450.3, 200.2, 520.8, 260.1],
            [10.5, 10.5, 30.2, 25.9],
            [-500.0, -400.0, 900.0, 800.0],
            [5.0, 5.0, 5.5, 5.2],
        ]
    )
    square = track._square(boxes)
    host = torch.cat(
        [
            F.interpolate(
                torch.from_numpy(track._crop(frames[20], bounds)).permute(2, 0, 1)[None].float(),
                size=(48, 48),
                mode="area",
            )
            for bounds in track._crop_bounds(square).tolist()
        ]
    )
    images = torch.from_numpy(np.stack([frames[0], frames[20]]))
    index = torch.ones(len(boxes), dtype=torch.long)
    device = track._area_crops(summed_area_table(images), index, square)
    # the sums of integer pixels are exact, the divisions those of F.interpolate
    assert torch.equal(device, host)


def test_the_device_path_tracks_as_the_host_path(frames) -> None:
    """Tracking with the GPU's code path (``batched_crops``: the frames' summed-area table,
    all crops at once, one copy to the host per plan), run here on the CPU, gives the host
    path's faces."""
    detector = FaceDetector(min_face_size=40)
    assert not detector.batched_crops  # on a CPU the loop is the default
    host = FaceTracker(detector, keyframe_interval=K)
    reference = host.track(frames)
    batched = FaceDetector(min_face_size=40, batched_crops=True)
    assert batched.settings["batched_crops"] is True
    tracker = FaceTracker(batched, keyframe_interval=K)
    _same_faces(tracker.track(frames), reference, atol=1e-3)
    assert tracker.full_detections == host.full_detections


def test_detect_ops_counts_the_batched_crops_host_reads(tmp_path) -> None:
    """benchmarks/detect_ops.py: the GPU's crop path reads from the device a few times a
    frame, facenet-pytorch's loop once per candidate."""
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import detect_ops

    out = detect_ops.main(["--frames", "6", "--json", str(tmp_path / "ops.json")])
    assert json.loads((tmp_path / "ops.json").read_text()) == out
    runs = [f"{c}_{m}" for c in ("batched", "loop") for m in ("per_frame", "tracked_k5")]
    for run in runs:
        assert out[run]["frames"] == 6 and out[run]["faces_found"] >= 5
        assert out[run]["ops_per_frame"] > 0 and out[run]["top_ops_per_frame"]
    batched, loop = out["batched_per_frame"], out["loop_per_frame"]
    assert batched["host_reads_per_frame"] < loop["host_reads_per_frame"] / 10
    assert loop["host_reads"]["_local_scalar_dense"] > 20 * 6  # a read per candidate
