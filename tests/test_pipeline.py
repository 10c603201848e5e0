"""The D2CA facade on real code paths: real MTCNN, a real photograph, a real video file."""

from __future__ import annotations

import json
import sys
import threading

import cv2
import numpy as np
import pytest
import skimage.data
import torch
from _inference import BLANK_FRAMES, save_small_checkpoint, small_model, write_astronaut_video
from PIL import Image

from d2ca.data.media import expand_inputs, iter_frames, prefetch
from d2ca.errors import InputError, NoFaceError
from d2ca.face import FaceTracker, align_face
from d2ca.inference.pipeline import D2CA
from d2ca.io import OutputExistsError
from d2ca.models import to_model_input, to_uint8_images


@pytest.fixture(scope="module")
def pipeline() -> D2CA:
    return D2CA(small_model())


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory):
    return write_astronaut_video(tmp_path_factory.mktemp("video") / "clip.mp4")


def test_every_image_type_gives_the_same_row(pipeline: D2CA, image, tmp_path) -> None:
    path = tmp_path / "astronaut.png"
    Image.fromarray(image).save(path)
    inputs = [
        str(path),
        path,
        Image.fromarray(image),
        image,
        image.astype(np.float32) / 255,
        torch.from_numpy(image).permute(2, 0, 1),  # C x H x W uint8
        np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2),  # RGBA
    ]
    result = pipeline.detect_aus(inputs)
    assert len(result) == len(inputs)
    assert all(row.success and row.face_id == 0 for row in result.rows)
    probs = result.probabilities
    np.testing.assert_allclose(probs, np.broadcast_to(probs[0], probs.shape), atol=1e-5)
    np.testing.assert_allclose(result.rows[0].face.box, [180, 60, 268, 172], atol=12)
    assert result.rows[0].source == str(path) and result.rows[3].source == "<image 3>"


def test_probabilities_are_the_model_on_the_aligned_crop(pipeline: D2CA, image) -> None:
    row = pipeline.detect_aus(image).rows[0]
    crop, _ = align_face(image, row.face.landmarks, pipeline.config.image_size)
    with torch.no_grad():
        expected = torch.sigmoid(pipeline.model(to_model_input(crop, pipeline.config)))[0]
    np.testing.assert_allclose(row.probabilities, expected.numpy(), atol=1e-6)
    # the same crop given as an aligned input skips detection and agrees
    aligned = pipeline.detect_aus(crop, aligned=True).rows[0]
    assert aligned.face is None and aligned.success
    np.testing.assert_allclose(aligned.probabilities, expected.numpy(), atol=1e-6)
    # an aligned crop of another size is resized to the model's input size
    big = cv2.resize(crop, (128, 128), interpolation=cv2.INTER_LINEAR)
    assert pipeline.detect_aus(big, aligned=True).probabilities.shape == (1, 12)
    with pytest.raises(InputError, match="square"):
        pipeline.detect_aus(image[:, :300], aligned=True)


def test_thresholds_decide_presence(pipeline: D2CA, image) -> None:
    p = pipeline.detect_aus(image).probabilities[0]
    default = pipeline.detect_aus(image).presence[0]
    np.testing.assert_array_equal(default, p >= 0.5)
    middle = float(np.median(p))
    np.testing.assert_array_equal(
        pipeline.detect_aus(image, thresholds=np.float32(middle)).presence[0], p >= middle
    )
    per_au = np.linspace(0.1, 0.9, 12)
    result = pipeline.detect_aus(image, thresholds=per_au)
    np.testing.assert_array_equal(result.presence[0], p >= per_au.astype(np.float32))
    assert result.thresholds == pytest.approx(per_au.tolist())
    only = pipeline.detect_aus(image, thresholds={"AU12": 0.01}).presence[0]
    assert only[pipeline.config.au_names.index("AU12")] == 1
    for bad, fragment in [
        (1.5, "between 0 and 1"),
        ([0.5] * 3, "expected 12"),
        ({"AU99": 0.5}, "AU99"),
    ]:
        with pytest.raises(InputError, match=fragment):
            pipeline.detect_aus(image, thresholds=bad)


def test_video_rows_timestamps_face_ids_and_blank_frames(pipeline: D2CA, video) -> None:
    result = pipeline.detect_aus(video, batch_size=4)
    assert [row.frame for row in result.rows] == list(range(12))
    for row in result.rows:
        assert row.timestamp == pytest.approx(row.frame / 10.0)
        blank = row.frame in BLANK_FRAMES
        assert row.success is not blank
        assert row.face_id == (-1 if blank else 0)  # one identity across the blank gap
    boxes = [row.face.box for row in result.rows if row.success]
    assert boxes[-1][0] - boxes[0][0] == pytest.approx(55, abs=5)  # 5 px a frame
    # batched equals frame by frame
    single = pipeline.detect_aus(video, batch_size=1)
    np.testing.assert_allclose(single.probabilities, result.probabilities, atol=1e-5)
    # every=3 analyses frames 0, 3, 6, 9 only
    sampled = pipeline.detect_aus(video, every=3)
    assert [row.frame for row in sampled.rows] == [0, 3, 6, 9]
    np.testing.assert_allclose(
        sampled.probabilities[[0, 1, 3]], result.probabilities[[0, 3, 9]], atol=1e-5
    )


@pytest.mark.parametrize("interval", [1, 10])  # per-frame detection, tracking
def test_face_ids_follow_two_faces_across_frames(pipeline: D2CA, image, interval) -> None:
    small = cv2.resize(image, (256, 256))
    frames = []
    for shift in (0, 6, 12):
        frame = np.zeros((256, 640, 3), np.uint8)
        frame[:, shift : shift + 256] = small
        frame[:, 360 - shift : 616 - shift] = small[:, ::-1]
        frames.append(frame)
    tracker = FaceTracker(pipeline.detector, keyframe_interval=interval)
    by_id: dict[int, list[float]] = {}
    for faces in tracker.track(frames):
        for face_id, face in faces:
            by_id.setdefault(face_id, []).append(float(face.box[0]))
    assert sorted(by_id) == [0, 1] and tracker.full_detections == (3 if interval == 1 else 1)
    left = [xs for xs in by_id.values() if xs[0] < 320][0]
    right = [xs for xs in by_id.values() if xs[0] > 320][0]
    assert np.diff(left).min() > 0 and np.diff(right).max() < 0  # each id stays on its face


def test_tables_csv_json_pandas(pipeline: D2CA, image, tmp_path, monkeypatch) -> None:
    result = pipeline.detect_aus([image, np.zeros((200, 300, 3), np.uint8)])
    text = result.to_csv()
    header, face_line, empty_line = text.splitlines()
    columns = header.split(",")
    assert columns[:6] == ["input", "frame", "face_id", "timestamp", "confidence", "success"]
    assert {"FaceRectX", "x_0", "y_4", "AU01", "AU24", "AU01_c", "AU24_c"} <= set(columns)
    face = dict(zip(columns, face_line.split(","), strict=True))
    assert face["success"] == "1" and float(face["AU12"]) == pytest.approx(
        result.probabilities[0, 6], abs=1e-5
    )
    empty = dict(zip(columns, empty_line.split(","), strict=True))
    assert empty["success"] == "0" and empty["face_id"] == "-1" and empty["AU01"] == ""
    records = json.loads(result.to_json())
    assert records[1]["success"] == 0 and records[1]["AU01"] is None
    assert records[0]["x_2"] == pytest.approx(float(result.rows[0].face.landmarks[2, 0]))
    frame = result.to_pandas()
    assert list(frame.columns) == columns and frame["AU01"].isna().tolist() == [False, True]
    out = tmp_path / "aus.csv"
    result.to_csv(out)
    assert out.read_text() == text
    with pytest.raises(OutputExistsError):
        result.to_csv(out)
    result.to_json(out, overwrite=True)
    assert json.loads(out.read_text()) == records
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(ImportError, match="pip install"):
        result.to_pandas()


def test_swap_aus_is_the_decoder_on_swapped_features(pipeline: D2CA, image) -> None:
    other = np.ascontiguousarray(image[:, ::-1])
    result = pipeline.swap_aus(image, other)
    size = pipeline.config.image_size
    crop_s, _ = align_face(image, result.source_face.landmarks, size)
    crop_t, matrix_t = align_face(other, result.target_face.landmarks, size)
    model, config = pipeline.model, pipeline.config
    with torch.no_grad():
        a_s = model.encode_au(to_model_input(crop_s, config))
        d_t = model.encode_dm(to_model_input(crop_t, config), "target")
        expected = to_uint8_images(model.decode(a_s, d_t), config)[0]
        d_t_src = model.encode_dm(to_model_input(crop_t, config), "source")
        expected_src = to_uint8_images(model.decode(a_s, d_t_src), config)[0]
    np.testing.assert_array_equal(result.crop, expected)
    np.testing.assert_array_equal(
        pipeline.swap_aus(image, other, domain="source").crop, expected_src
    )
    assert result.image.shape == other.shape
    footprint = cv2.warpAffine(
        np.ones((size, size), np.uint8), matrix_t, (512, 512), flags=cv2.WARP_INVERSE_MAP
    )
    outside = cv2.dilate(footprint, np.ones((3, 3), np.uint8)) == 0
    np.testing.assert_array_equal(result.image[outside], other[outside])
    assert not np.array_equal(result.image[~outside], other[~outside])
    assert pipeline.swap_aus(image, other, paste=False).image is None
    with pytest.raises(NoFaceError, match="no face"):
        pipeline.swap_aus(image, np.zeros((200, 200, 3), np.uint8))
    with pytest.raises(InputError, match="domain"):
        pipeline.swap_aus(image, other, domain="both")  # type: ignore[arg-type]


def test_interpolate_encode_reconstruct(pipeline: D2CA, image) -> None:
    other = np.ascontiguousarray(image[:, ::-1])
    a, d = pipeline.encode([image, other])
    f = pipeline.config.feature_size
    assert a.shape == (2, 32, f, f) and d.shape == (2, 32, f, f)
    _, d_src = pipeline.encode(image, domain="source")
    assert not torch.allclose(d_src, d[:1])
    strip = pipeline.interpolate(image, other, image, steps=5)
    assert strip.shape == (5, 64, 64, 3) and strip.dtype == np.uint8
    with torch.no_grad():
        ends = to_uint8_images(
            pipeline.model.decode(a, d[:1].expand(2, -1, -1, -1)), pipeline.config
        )
    np.testing.assert_array_equal(strip[[0, -1]], ends)
    with torch.no_grad():  # the middle face decodes the mean of the two AU features
        middle = pipeline.model.decode(a.mean(0, keepdim=True), d[:1])
    expected = to_uint8_images(middle, pipeline.config)[0].astype(int)
    assert np.abs(strip[2].astype(int) - expected).max() <= 1
    recon = pipeline.reconstruct([image, other])
    with torch.no_grad():
        np.testing.assert_array_equal(
            recon, to_uint8_images(pipeline.model.decode(a, d), pipeline.config)
        )
    with pytest.raises(InputError, match="steps"):
        pipeline.interpolate(image, other, image, steps=1)


def test_input_errors_name_the_input(pipeline: D2CA, image, tmp_path, monkeypatch) -> None:
    truncated = tmp_path / "cut.jpg"
    Image.fromarray(image).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    empty_video = tmp_path / "empty.mp4"
    empty_video.touch()
    corrupt_video = tmp_path / "corrupt.mp4"
    corrupt_video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    empty_folder = tmp_path / "nothing"
    empty_folder.mkdir()
    cases = [
        (tmp_path / "missing.png", "no such file"),
        (truncated, "unreadable image"),
        (text, "not an image or video"),
        (empty_video, "empty video"),
        (corrupt_video, "not a readable video"),
        (empty_folder, "no image or video"),
        (np.zeros((4, 4, 3), np.float32) + 2, r"\[0, 1\]"),
        ("x" * 3, "no such file"),
        (object(), "cannot use an input of type object"),
    ]
    for bad, fragment in cases:
        with pytest.raises(InputError, match=fragment):
            pipeline.detect_aus(bad)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # PIL's decompression-bomb limit
    big = tmp_path / "big.png"
    Image.fromarray(image).save(big)
    with pytest.raises(InputError, match="too large"):
        pipeline.detect_aus(big)
    with pytest.raises(InputError, match="every"):
        pipeline.detect_aus(image, every=0)


def test_from_pretrained_folder_is_quiet_and_exact(tmp_path, capsys) -> None:
    folder = save_small_checkpoint(tmp_path / "ckpt", seed=3)
    capsys.readouterr()
    loaded = D2CA.from_pretrained(folder)
    assert capsys.readouterr().out == ""
    reference = small_model(seed=3).state_dict()
    for name, tensor in loaded.model.state_dict().items():
        torch.testing.assert_close(tensor.cpu(), reference[name], rtol=0, atol=0, msg=name)
    again = loaded.save_pretrained(tmp_path / "again")
    assert (again / "model.safetensors").is_file()
    with pytest.raises(OutputExistsError):
        loaded.save_pretrained(again)


def test_several_faces_use_the_highest_score_and_progress_goes_to_stderr(
    pipeline: D2CA, image, capsys
) -> None:
    blurred = cv2.GaussianBlur(cv2.resize(image, (256, 256)), (0, 0), 3.4)
    two = np.zeros((512, 768, 3), np.uint8)
    two[:, :512] = image
    two[128:384, 512:] = blurred  # a smaller, blurred second face scores lower
    faces = pipeline.detector.detect([two])[0]
    assert len(faces) == 2 and faces[0].score > faces[1].score + 0.005
    result = pipeline.swap_aus(two, two)
    np.testing.assert_array_equal(result.target_face.box, faces[0].box)
    rows = pipeline.detect_aus(two, progress=True).rows
    assert [row.face_id for row in rows] == [0, 1]  # in score order
    captured = capsys.readouterr()
    assert captured.out == "" and "1/1" in captured.err


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "d2ca-prefetch" and t.is_alive()]


def test_prefetch_keeps_order_raises_the_readers_error_and_stops_early() -> None:
    assert list(prefetch(range(100), depth=3)) == list(range(100))
    read, closed = [], []

    def source(fail_at: int | None = None):
        try:
            for i in range(1000):
                if i == fail_at:
                    raise InputError(f"clip.mp4: frame {i} is corrupt")
                read.append(i)
                yield i
        finally:
            closed.append(True)

    # the reader's exception arrives after the items read before it, and stops the thread
    got = []
    with pytest.raises(InputError, match="frame 5 is corrupt"):
        for i in prefetch(source(fail_at=5), depth=2):
            got.append(i)
    assert got == [0, 1, 2, 3, 4] and closed == [True] and not _prefetch_threads()
    # a consumer that stops early: the thread ends, having read at most depth + 2 ahead,
    # and closes its source (a video capture is released) before the generator returns
    read.clear()
    closed.clear()
    frames = prefetch(source(), depth=4)
    for i in frames:
        if i == 10:
            break
    frames.close()
    assert closed == [True] and not _prefetch_threads()
    assert len(read) <= 11 + 4 + 2
    with pytest.raises(ValueError, match="depth"):
        next(prefetch(range(3), depth=0))


def test_detect_aus_reads_ahead_and_stops_its_reader_on_errors(pipeline: D2CA, video) -> None:
    """Frames are decoded in a background thread; the rows are those of reading in line,
    and an error in the loop (here from the progress callback) stops the reader."""
    rows = pipeline.detect_aus(video, batch_size=4).rows
    frames = list(iter_frames(expand_inputs(str(video))))
    assert [row.frame for row in rows] == [frame.index for frame in frames] == list(range(12))
    assert not _prefetch_threads()

    def interrupt(n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pipeline.detect_aus(video, batch_size=4, progress=interrupt)
    assert not _prefetch_threads()
