"""Reading what users pass in (paths, folders, PIL images, arrays, tensors, videos) as RGB frames.

Everything becomes ``H x W x 3`` uint8 RGB through :func:`to_rgb` (in-memory images) and
:func:`read_image` (files); videos are streamed frame by frame with :func:`iter_video`, and
:func:`prefetch` decodes ahead in a background thread while the caller works.
Anything that cannot be read raises :class:`~d2ca.errors.InputError` naming the input.
"""

from __future__ import annotations

import queue
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from d2ca.errors import InputError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
)
T = TypeVar("T")


@dataclass(frozen=True)
class Frame:
    """One image to analyse: a still (``index`` 0, ``timestamp`` 0) or a video frame."""

    source: str
    index: int
    timestamp: float  # seconds from the start of the video
    image: np.ndarray  # H x W x 3 uint8 RGB


@dataclass(frozen=True)
class Source:
    """A still image (``image`` set, or read from ``path``) or a video file (``is_video``)."""

    name: str
    path: Path | None = None
    image: Any = None
    is_video: bool = False


def to_rgb(image: Any) -> np.ndarray:
    """Turn one image of any supported type into an ``H x W x 3`` uint8 RGB array.

    Accepted: a path (str or Path), a PIL image, a numpy array ``H x W``, ``H x W x 3`` or
    ``H x W x 4`` (uint8, or float in ``[0, 1]``), a torch tensor ``C x H x W`` (uint8, or
    float in ``[0, 1]``). Alpha is dropped, grey is repeated over three channels.

    Raises:
        InputError: for anything else, or values outside the documented ranges.

    Example:
        >>> to_rgb(np.zeros((4, 5), np.float32)).shape
        (4, 5, 3)
    """
    if isinstance(image, (str, Path)):
        return read_image(image)
    module = type(image).__module__
    if module.startswith("PIL."):
        return np.asarray(image.convert("RGB"))
    if module.startswith("torch"):
        tensor = image.detach().cpu()
        if tensor.ndim == 3:
            tensor = tensor.permute(1, 2, 0)  # torch images are C x H x W
        image = tensor.numpy()
    if not isinstance(image, np.ndarray):
        raise InputError(f"cannot use an input of type {type(image).__name__} as an image")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) < 1:
        raise InputError(f"expected an H x W x 3 image, got an array of shape {image.shape}")
    if image.dtype != np.uint8:
        if image.dtype.kind not in "fb" or not np.isfinite(image).all():
            raise InputError(f"expected uint8 or float pixels in [0, 1], got {image.dtype}")
        low, high = float(image.min()), float(image.max())
        if low < 0.0 or high > 1.0:
            raise InputError(f"float pixels must lie in [0, 1], got [{low:.3g}, {high:.3g}]")
        image = np.rint(image.astype(np.float32) * 255.0).astype(np.uint8)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``H x W x 3`` uint8 RGB, applying its EXIF orientation.

    PIL's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``) is observed strictly:
    an image over it raises instead of warning.

    Raises:
        InputError: missing file, not an image, truncated or corrupt data, image too large.

    Example:
        >>> read_image("missing.jpg")
        Traceback (most recent call last):
        ...
        d2ca.errors.InputError: missing.jpg: no such file
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise InputError(f"{path}: image too large to decode safely ({e})") from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image or video that can be read") from None
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt data
        raise InputError(f"{path}: unreadable image ({e})") from None


def _open_video(path: Path) -> Any:
    import cv2

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty video file")
    # VideoCapture never raises on a bad file: it only reports that it is not open.
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise InputError(f"{path}: not a readable video (corrupt or unsupported)")
    return capture


def video_frame_count(path: str | Path) -> int:
    """Number of frames the container declares (0 when unknown)."""
    import cv2

    capture = _open_video(Path(path))
    try:
        return max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


def iter_video(path: str | Path, every: int = 1) -> Iterator[Frame]:
    """Stream every ``every``-th frame of a video; skipped frames are not decoded.

    Timestamps come from the container (``CAP_PROP_POS_MSEC``), falling back to
    ``index / fps`` when the backend does not report them.

    Raises:
        InputError: missing, empty or corrupt file, or a video from which no frame arrives.

    Example:
        >>> frames = iter_video("clip.mp4", every=5)  # doctest: +SKIP
        >>> next(frames).timestamp  # doctest: +SKIP
        0.0
    """
    import cv2

    if every < 1:
        raise InputError(f"every must be at least 1, got {every}")
    path = Path(path)
    capture = _open_video(path)
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        index, last_ms = 0, -1.0
        while capture.grab():
            if index % every == 0:
                ok, bgr = capture.retrieve()
                if not ok:
                    break
                ms = capture.get(cv2.CAP_PROP_POS_MSEC)
                if ms <= last_ms or (ms == 0 and index > 0):
                    ms = 1000.0 * index / fps if fps > 0 else float("nan")
                last_ms = ms
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                yield Frame(str(path), index, ms / 1000.0, rgb)
            index += 1
        if index == 0:
            raise InputError(f"{path}: no frame could be decoded (empty or corrupt video)")
    finally:
        capture.release()


def expand_inputs(inputs: Any) -> list[Source]:
    """List the stills and videos named by ``inputs`` without decoding them.

    ``inputs`` is one item or a list of items; an item is a file path, a folder (its images
    and videos, sorted by name, not recursive), or an in-memory image (see :func:`to_rgb`).
    A 4-D array (``N x H x W x C``) or tensor (``N x C x H x W``) is a batch of images.

    Example:
        >>> [s.name for s in expand_inputs([np.zeros((2, 8, 8, 3), np.uint8)])]
        ['<image 0>', '<image 1>']
    """
    if isinstance(inputs, (str, Path)) or not isinstance(inputs, Sequence):
        inputs = [inputs]
    sources: list[Source] = []
    for item in inputs:
        if isinstance(item, (str, Path)):
            sources.extend(_path_sources(Path(item)))
        elif getattr(item, "ndim", 0) == 4:  # batch of arrays or tensors
            sources.extend(Source(f"<image {len(sources)}>", image=x) for x in item)
        else:
            sources.append(Source(f"<image {len(sources)}>", image=item))
    if not sources:
        raise InputError("no input given")
    return sources


def _path_sources(path: Path) -> list[Source]:
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
        )
        if not files:
            raise InputError(f"{path}: folder holds no image or video")
        return [
            Source(str(p), path=p, is_video=p.suffix.lower() in VIDEO_EXTENSIONS) for p in files
        ]
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder")
    return [Source(str(path), path=path, is_video=path.suffix.lower() in VIDEO_EXTENSIONS)]


def count_frames(sources: Sequence[Source], every: int = 1) -> int:
    """Frames :func:`iter_frames` will yield (from container metadata; for progress bars)."""
    return sum(
        -(-video_frame_count(s.path) // every) if s.is_video and s.path else 1 for s in sources
    )


def iter_frames(sources: Sequence[Source], every: int = 1) -> Iterator[Frame]:
    """Stream the frames of ``sources`` in order: stills once, videos every ``every`` frames."""
    for source in sources:
        if source.is_video and source.path is not None:
            yield from iter_video(source.path, every)
        else:
            image = read_image(source.path) if source.path is not None else to_rgb(source.image)
            yield Frame(source.name, 0, 0.0, image)


def prefetch(items: Iterable[T], depth: int) -> Iterator[T]:
    """Iterate over ``items`` while a background thread reads up to ``depth`` items ahead.

    Decoding (OpenCV and PIL release the GIL) then overlaps with the caller's work, on a GPU
    with the networks. An exception raised while reading is raised here, after the items
    read before it. Closing the returned generator (leaving a ``for`` loop early, an error
    in the loop, ``close()``) stops the thread and closes ``items`` (e.g. a video capture)
    before it returns.

    Example:
        >>> from contextlib import closing
        >>> with closing(prefetch(range(5), depth=2)) as numbers:
        ...     list(numbers)
        [0, 1, 2, 3, 4]
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    buffer: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        error: BaseException | None = None
        try:
            iterator = iter(items)
            try:
                for item in iterator:
                    buffer.put((False, item))  # waits while the buffer is full
                    if stop.is_set():
                        return
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as e:  # handed to the consumer, which raises it
            error = e
        buffer.put((True, error))

    reader = threading.Thread(target=read, name="d2ca-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            done, value = buffer.get()
            if done:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        stop.set()
        while reader.is_alive():  # free a slot for a reader waiting on a full buffer
            try:
                buffer.get(timeout=0.01)
            except queue.Empty:
                pass
        reader.join()
