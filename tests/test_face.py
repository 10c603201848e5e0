"""Face detection, alignment and paste-back on a real photograph (skimage's astronaut)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F

from d2ca.face import Face, FaceDetector, align_face, face_template, paste_back
from d2ca.face.mtcnn import area_crops, detect_faces, summed_area_table


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(device="cpu", min_face_size=40, batch_size=2)  # batches get chunked


@pytest.fixture(scope="module")
def face(detector: FaceDetector, image: np.ndarray) -> Face:
    faces = detector.detect([image])[0]
    assert len(faces) == 1
    return faces[0]


def test_detects_the_astronauts_face_with_ordered_landmarks(face: Face) -> None:
    # Her face spans about x 180-268, y 60-172 in the 512 x 512 photograph.
    assert face.box.dtype == np.float32 and face.box.shape == (4,)
    np.testing.assert_allclose(face.box, [180, 60, 268, 172], atol=12)
    assert face.score > 0.99
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32
    x1, y1, x2, y2 = face.box
    assert ((face.landmarks >= [x1, y1]) & (face.landmarks <= [x2, y2])).all()
    assert left_eye[0] < nose[0] < right_eye[0]
    assert mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


def test_alignment_puts_the_landmarks_on_the_template(image: np.ndarray, face: Face) -> None:
    crop, matrix = align_face(image, face.landmarks, size=128)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    moved = face.landmarks @ matrix[:, :2].T + matrix[:, 2]
    template = face_template(128)
    # A similarity transform cannot fit five points exactly; eyes land within 3 px.
    np.testing.assert_allclose(moved[:2], template[:2], atol=3)
    # Her wide smile moves the mouth corners off the neutral template, still within 5 %.
    assert np.linalg.norm(moved - template, axis=1).max() < 0.05 * 128
    # Detecting again on the crop finds the eyes where the template puts them.
    redetected = FaceDetector(min_face_size=40).detect([crop])[0][0]
    np.testing.assert_allclose(redetected.landmarks[:2], template[:2], atol=4)


def test_batched_detection_equals_single_frames(detector: FaceDetector, image: np.ndarray) -> None:
    shifted = np.roll(image, (17, -23), axis=(0, 1))
    blank = np.zeros_like(image)
    small = cv2.resize(image, (256, 256))  # another size in the same batch
    frames = [image, blank, shifted, small]
    batched = detector.detect(frames)
    assert batched[1] == []  # a frame without a face does not break the batch
    # nor one smaller than the smallest face searched for (MTCNN has no pyramid for it)
    assert detector.detect([image, image[:30, :30]])[1] == []
    for frame, faces in zip(frames, batched, strict=True):
        single = detector.detect([frame])[0]
        assert len(single) == len(faces)
        for a, b in zip(single, faces, strict=True):
            np.testing.assert_allclose(a.box, b.box, atol=0.5)
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.5)
    np.testing.assert_allclose(batched[2][0].box, batched[0][0].box + [-23, 17, -23, 17], atol=5)
    np.testing.assert_allclose(batched[3][0].box, batched[0][0].box / 2, atol=4)


def test_faces_are_sorted_by_score_in_a_two_face_image(detector: FaceDetector, image) -> None:
    two = np.concatenate([image, cv2.resize(image, (512, 512))[:, ::-1]], axis=1)
    faces = detector.detect([two])[0]
    assert len(faces) == 2
    assert faces[0].score >= faces[1].score
    assert {f.box[0] < 512 for f in faces} == {True, False}


def test_downscaled_detection_maps_back_to_full_resolution(image: np.ndarray, face: Face) -> None:
    small = FaceDetector(min_face_size=20, max_side=256).detect([image])[0][0]
    np.testing.assert_allclose(small.box, face.box, atol=8)
    np.testing.assert_allclose(small.landmarks, face.landmarks, atol=5)


def test_paste_back_leaves_the_image_outside_the_face_untouched(image, face: Face) -> None:
    original = image.copy()
    crop, matrix = align_face(image, face.landmarks, size=128)
    out = paste_back(image, 255 - crop, matrix)
    np.testing.assert_array_equal(image, original)  # input not modified
    footprint = cv2.warpAffine(
        np.ones((128, 128), np.uint8), matrix, image.shape[1::-1], flags=cv2.WARP_INVERSE_MAP
    )
    outside = cv2.dilate(footprint, np.ones((3, 3), np.uint8)) == 0
    assert outside.mean() > 0.8
    np.testing.assert_array_equal(out[outside], image[outside])
    # The middle of the face now shows the inverted crop.
    cx, cy = face.landmarks[2].astype(int)
    assert np.abs(out[cy, cx].astype(int) - (255 - image[cy, cx].astype(int))).max() < 40
    # Pasting the unchanged crop back reproduces the face up to resampling error.
    same = paste_back(image, crop, matrix)
    x1, y1, x2, y2 = face.box.astype(int)
    error = np.abs(same[y1:y2, x1:x2].astype(int) - image[y1:y2, x1:x2].astype(int)).mean()
    assert error < 6


def test_batched_stages_find_what_facenet_pytorch_finds(detector: FaceDetector, image) -> None:
    """:func:`detect_faces` (the GPU's path: every candidate's crop cut at once from the
    frames' summed-area tables), run here on the CPU, against facenet-pytorch's ``detect``."""
    rng = np.random.default_rng(0)
    two = np.concatenate([image, image[:, ::-1]], axis=1)  # two faces, and a face at the edge
    frames = [two, np.roll(two, (40, 300), axis=(0, 1)), np.zeros_like(two),
              np.clip(two + rng.normal(0, 12, two.shape), 0, 255).astype(np.uint8)]  # fmt: skip
    batch = np.stack([cv2.resize(f, (640, 320)) for f in frames])
    boxes, probs, points = detector.mtcnn.detect(batch, landmarks=True)
    ours = detect_faces(detector.mtcnn, batch)
    assert len(ours[2][0]) == 0 and boxes[2] is None  # no face
    assert [len(b) for b, _ in detect_faces(detector.mtcnn, batch[:2, :30, :30])] == [0, 0]
    assert sum(len(b) for b, _ in ours) >= 6
    for b, p, pts, (our_boxes, our_points) in zip(boxes, probs, points, ours, strict=True):
        if b is None:
            continue
        assert len(our_boxes) == len(b)
        np.testing.assert_allclose(our_boxes[:, :4], b, atol=1e-3)
        np.testing.assert_allclose(our_boxes[:, 4], p, atol=1e-5)
        np.testing.assert_allclose(our_points, pts, atol=1e-3)


def test_crops_from_the_summed_area_table_are_those_of_interpolate() -> None:
    rng = np.random.default_rng(1)
    frames = torch.from_numpy(rng.integers(0, 256, (2, 90, 160, 3), dtype=np.uint8))
    bounds = torch.tensor([[10, 5, 70, 80], [0, 0, 160, 90], [-20, -10, 30, 40],
                           [150, 80, 200, 130], [7, 7, 9, 8]])  # fmt: skip
    index = torch.tensor([0, 1, 1, 0, 1])
    for size in (24, 48):
        crops = area_crops(summed_area_table(frames), index, bounds, size)
        for crop, f, (x1, y1, x2, y2) in zip(crops, index, bounds.tolist(), strict=True):
            cut = torch.zeros(y2 - y1, x2 - x1, 3)  # pixels outside the frame are zeros
            inside = frames[f, max(y1, 0) : y2, max(x1, 0) : x2].float()
            cut[max(y1, 0) - y1 : max(y1, 0) - y1 + len(inside),
                max(x1, 0) - x1 : max(x1, 0) - x1 + inside.shape[1]] = inside  # fmt: skip
            want = F.interpolate(cut.permute(2, 0, 1)[None], size=(size, size), mode="area")
            assert torch.equal(crop, want[0])
