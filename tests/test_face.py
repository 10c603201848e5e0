"""Face detection, alignment and paste-back on a real photograph (skimage's astronaut)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from d2ca.face import Face, FaceDetector, align_face, face_template, paste_back


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
