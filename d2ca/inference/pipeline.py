"""The inference facade: faces in, AU probabilities, AU swaps and interpolations out.

Example:
    >>> from d2ca import D2CA
    >>> model = D2CA.from_pretrained()  # doctest: +SKIP
    >>> result = model.detect_aus("clip.mp4", every=5)  # doctest: +SKIP
    >>> result.to_csv("aus.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch

from d2ca import hub
from d2ca.config import D2CAConfig
from d2ca.data.media import (
    VIDEO_EXTENSIONS,
    Frame,
    count_frames,
    expand_inputs,
    iter_frames,
    prefetch,
    to_rgb,
)
from d2ca.devices import resolve_device
from d2ca.errors import InputError, NoFaceError
from d2ca.face import Face, FaceDetector, FaceTracker, align_face, paste_back
from d2ca.face.track import KEYFRAME_INTERVAL
from d2ca.inference.results import AUResult, FaceAUs, SwapResult
from d2ca.models import D2CAModel, Domain, to_model_input, to_uint8_images

Thresholds = float | Sequence[float] | Mapping[str, float] | None


class D2CA:
    """A trained D2CA model with a face detector: the one entry point for inference.

    Every method takes images of any type :func:`d2ca.data.media.to_rgb` accepts (paths, PIL
    images, numpy arrays, torch tensors). Faces are found with MTCNN and aligned to the
    five-point template (:mod:`d2ca.face`) unless ``aligned=True`` says the images already
    are aligned face crops. Where one face is needed and an image holds several, the face
    with the highest detection score is used.

    ``domain`` chooses the private domain encoder for the domain features ``d``:
    ``"target"`` (default; ``E_dm^t``) suits user photos, which are unlabelled, target-like
    data; ``"source"`` uses ``E_dm^s``, the encoder of the labelled training domain.

    Args:
        model: the networks; put in eval mode.
        detector: face detector; by default MTCNN with ``min_face_size=40`` on the model's
            device (8 frames per call on a CPU, 32 on a GPU), created at first use.

    Example:
        >>> model = D2CA.from_pretrained("path/to/checkpoint")  # doctest: +SKIP
        >>> model.detect_aus("face.jpg").to_pandas()[["AU12", "AU12_c"]]  # doctest: +SKIP
    """

    def __init__(self, model: D2CAModel, *, detector: FaceDetector | None = None) -> None:
        self.model = model.eval()
        self._detector = detector

    @property
    def config(self) -> D2CAConfig:
        return self.model.config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            # On a GPU, MTCNN gets as many frames per call as the AU network (batch_size).
            gpu = self.device.type != "cpu"
            self._detector = FaceDetector(
                device=str(self.device), min_face_size=40, batch_size=32 if gpu else 8
            )
        return self._detector

    # ---------------------------------------------------------------- checkpoints
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path | None = None,
        *,
        device: str | torch.device | None = "auto",
        revision: str | None = None,
    ) -> D2CA:
        """Load a checkpoint: ``None`` is the default shipped in the package, a path is a
        local folder (``config.json`` + ``model.safetensors``), anything else a Hub repo id.

        ``device="auto"`` puts the networks (and MTCNN) on the GPU when there is one.

        Hub downloads honour the huggingface_hub cache and ``HF_HUB_OFFLINE=1``; nothing is
        printed to stdout.

        Raises:
            CheckpointError: missing, incomplete or inconsistent checkpoint, or an uncached
                repo while offline.
            DeviceError: a device this machine does not have.

        Example:
            >>> model = D2CA.from_pretrained("org/d2ca-bp4d", device="cuda")  # doctest: +SKIP
        """
        device = resolve_device(device)  # before loading: fail fast on a missing GPU
        return cls(hub.load_pretrained(name_or_path, revision=revision, device=device))

    def save_pretrained(
        self, folder: str | Path, *, overwrite: bool = False, card: str | None = None
    ) -> Path:
        """Write the checkpoint folder that :meth:`from_pretrained` reads.

        Example:
            >>> model.save_pretrained("my-d2ca")  # doctest: +SKIP
        """
        return hub.save_pretrained(self.model, folder, overwrite=overwrite, card=card)

    def push_to_hub(self, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
        """Save to a temporary folder and upload it to the Hub model repo ``repo_id``.

        Example:
            >>> model.push_to_hub("me/d2ca-bp4d", private=True)  # doctest: +SKIP
        """
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            folder = self.save_pretrained(Path(tmp) / "checkpoint")
            return hub.push_to_hub(folder, repo_id, private=private, token=token)

    # ---------------------------------------------------------------- AU detection
    def detect_aus(
        self,
        inputs: Any,
        *,
        aligned: bool = False,
        every: int = 1,
        batch_size: int = 32,
        thresholds: Thresholds = None,
        progress: bool | Callable[[int], None] | None = None,
        tracking: bool = True,
        keyframe_interval: int = KEYFRAME_INTERVAL,
    ) -> AUResult:
        """Detect faces and their AUs in images and videos.

        Args:
            inputs: a path, folder, video file, PIL image, ``H x W x 3`` array, ``C x H x W``
                tensor, a batch (``N``-first array or tensor), or a list of these.
            aligned: the images are aligned face crops (no detection; square, resized to
                the model's ``image_size``).
            every: analyse every ``every``-th frame of videos (skipped frames are not decoded).
            batch_size: frames detected, tracked and classified together (a batch ahead is
                decoded in a background thread meanwhile); memory stays flat with video length.
            thresholds: decision thresholds for ``AUxx_c``: one float for all AUs, one per
                AU, or a mapping ``{"AU12": 0.4}`` over the defaults (``config.thresholds``).
            progress: tqdm bar on stderr; ``None`` shows it when stderr is a terminal; a
                function is called instead with the number of frames after each batch.
            tracking: in videos, follow faces between full detections
                (:class:`~d2ca.face.FaceTracker`); ``False`` runs full MTCNN on every frame.
            keyframe_interval: with ``tracking``, analysed frames from one full detection
                to the next (also after a lost track).

        Returns:
            One row per face per analysed frame, and one ``success=False`` row per frame
            without a face. Face ids follow faces across video frames.

        Raises:
            InputError: unreadable input or invalid option.

        Example:
            >>> result = model.detect_aus(["a.jpg", "clip.mp4"], every=2)  # doctest: +SKIP
            >>> result.to_csv("aus.csv")  # doctest: +SKIP
        """
        from tqdm.auto import tqdm

        for name, value in [
            ("every", every),
            ("batch_size", batch_size),
            ("keyframe_interval", keyframe_interval),
        ]:
            if value < 1:
                raise InputError(f"{name} must be a positive integer, got {value}")
        limits = self._thresholds(thresholds)
        sources = expand_inputs(inputs)
        total = count_frames(sources, every)  # also opens every video: fail before working
        videos = {source.name for source in sources if source.is_video}
        interval = keyframe_interval if tracking else 1
        rows: list[FaceAUs] = []
        trackers: dict[str, FaceTracker] = {}
        # decoded in a background thread, a batch ahead, while the networks work
        frames = prefetch(iter_frames(sources, every), depth=batch_size)
        with (
            closing(frames),
            tqdm(
                total=total,
                unit="frame",
                file=sys.stderr,
                disable=callable(progress) or (None if progress is None else not progress),
            ) as bar,
        ):
            for batch in _batches(frames, batch_size):
                if aligned:
                    faces: list[list[tuple[int, Face | None]]] = [[(0, None)] for _ in batch]
                else:
                    faces = self._faces(batch, videos, trackers, interval)  # type: ignore[assignment]
                rows.extend(self._detect_batch(batch, faces, limits))
                if callable(progress):
                    progress(len(batch))
                bar.update(len(batch))
        return AUResult(self.config.au_names, tuple(float(t) for t in limits), tuple(rows))

    def _faces(
        self,
        batch: list[Frame],
        videos: set[str],
        trackers: dict[str, FaceTracker],
        interval: int,
    ) -> list[list[tuple[int, Face]]]:
        """``(face_id, face)`` pairs of each frame: tracked in videos, detected in stills."""
        out: list[list[tuple[int, Face]]] = [[] for _ in batch]
        stills = [i for i, frame in enumerate(batch) if frame.source not in videos]
        if stills:
            detected = self.detector.detect([batch[i].image for i in stills])
            for i, faces in zip(stills, detected, strict=True):
                out[i] = list(enumerate(faces))  # in a still, id 0 is the best-scoring face
        by_video: dict[str, list[int]] = {}
        for i, frame in enumerate(batch):
            if frame.source in videos:
                by_video.setdefault(frame.source, []).append(i)
        for source, indices in by_video.items():
            if source not in trackers:
                trackers[source] = FaceTracker(self.detector, keyframe_interval=interval)
            tracked = trackers[source].track([batch[i].image for i in indices])
            for i, faces in zip(indices, tracked, strict=True):
                out[i] = faces
        return out

    def _detect_batch(
        self,
        batch: list[Frame],
        faces: Sequence[Sequence[tuple[int, Face | None]]],
        limits: np.ndarray,
    ) -> list[FaceAUs]:
        # 1. an aligned crop per face (or the frame itself when already aligned)
        size = self.config.image_size
        crops = [
            align_face(frame.image, face.landmarks, size)[0]
            if face is not None
            else self._aligned_crop(frame.image, frame.source)
            for frame, frame_faces in zip(batch, faces, strict=True)
            for _, face in frame_faces
        ]
        # 2. AU probabilities of all crops of the batch in one forward pass
        probs = self._au_probabilities(np.stack(crops)) if crops else np.empty((0, 0))
        # 3. one row per face, or one success=0 row per frame without a face
        rows, k = [], 0
        for frame, frame_faces in zip(batch, faces, strict=True):
            if not frame_faces:
                rows.append(FaceAUs(frame.source, frame.index, frame.timestamp, -1, False))
            for face_id, face in frame_faces:
                p = probs[k]
                k += 1
                rows.append(
                    FaceAUs(
                        frame.source,
                        frame.index,
                        frame.timestamp,
                        face_id,
                        True,
                        face,
                        p,
                        p >= limits,
                    )
                )
        return rows

    def _au_probabilities(self, crops: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 aligned crops -> ``(N, A)`` float32 ``sigmoid(C(E_au(x)))``."""
        with torch.inference_mode():
            x = to_model_input(torch.from_numpy(crops).to(self.device), self.config)
            return torch.sigmoid(self.model(x)).float().cpu().numpy()

    def _thresholds(self, thresholds: Thresholds) -> np.ndarray:
        names = self.config.au_names
        values = np.asarray(self.config.thresholds, dtype=np.float32)
        if isinstance(thresholds, Mapping):
            unknown = sorted(set(thresholds) - set(names))
            if unknown:
                raise InputError(f"no AU {unknown[0]} in this model (it has {', '.join(names)})")
            for name, value in thresholds.items():
                values[names.index(name)] = value
        elif isinstance(thresholds, numbers.Real):  # also numpy scalars
            values[:] = thresholds
        elif thresholds is not None:
            values = np.asarray(thresholds, dtype=np.float32)
            if values.shape != (len(names),):
                raise InputError(f"expected {len(names)} thresholds, got {values.size}")
        if not ((values > 0) & (values < 1)).all():
            raise InputError(f"thresholds must lie strictly between 0 and 1, got {values.tolist()}")
        return values

    # ---------------------------------------------------------------- synthesis
    def encode(
        self, images: Any, *, domain: Domain = "target", aligned: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """AU and domain features ``a = E_au(x)``, ``d = E_dm(x)`` of the face of each image.

        Args:
            images: one image or a list of images (the highest-scoring face of each is used).
            domain: which private domain encoder computes ``d``.
            aligned: the images are aligned face crops.

        Returns:
            ``(a, d)``, each ``(N, C, f, f)`` with ``f = config.feature_size``.

        Raises:
            NoFaceError: an image without a face.

        Example:
            >>> a, d = model.encode("face.jpg")  # doctest: +SKIP
            >>> a.shape  # doctest: +SKIP
            torch.Size([1, 128, 8, 8])
        """
        x = self._model_input([self._face(img, aligned)[2] for img in _as_list(images)])
        with torch.inference_mode():
            return self.model.encode_au(x), self.model.encode_dm(x, _check_domain(domain))

    def reconstruct(
        self, images: Any, *, domain: Domain = "target", aligned: bool = False
    ) -> np.ndarray:
        """``G([E_au(x), E_dm(x)])`` of the face of each image: ``(N, S, S, 3)`` uint8 crops.

        Example:
            >>> crops = model.reconstruct(["a.jpg", "b.jpg"])  # doctest: +SKIP
        """
        a, d = self.encode(images, domain=domain, aligned=aligned)
        return self._decode(a, d)

    def swap_aus(
        self,
        au_source: Any,
        target: Any,
        *,
        domain: Domain = "target",
        paste: bool = True,
        aligned: bool = False,
    ) -> SwapResult:
        """Give the target face the AUs of the source face: ``I_t->s = G([E_au(I_s), E_dm(I_t)])``.

        Args:
            au_source: image whose face provides the AUs (expression).
            target: image whose face provides the domain features (identity, appearance).
            domain: domain encoder for the target (see the class docstring).
            paste: also return the full target image with the synthesised face pasted back.
            aligned: both images are aligned face crops (then nothing is pasted).

        Raises:
            NoFaceError: no face in one of the images.

        Example:
            >>> out = model.swap_aus("smile.jpg", "me.jpg")  # doctest: +SKIP
            >>> Image.fromarray(out.image).save("me_smiling.png")  # doctest: +SKIP
        """
        _, face_s, crop_s, _ = self._face(au_source, aligned)
        image_t, face_t, crop_t, matrix_t = self._face(target, aligned)
        x = self._model_input([crop_s, crop_t])
        with torch.inference_mode():
            a_s = self.model.encode_au(x[:1])
            d_t = self.model.encode_dm(x[1:], _check_domain(domain))
        crop_ts = self._decode(a_s, d_t)[0]
        pasted = None
        if paste and matrix_t is not None:
            pasted = paste_back(image_t, crop_ts, matrix_t)
        return SwapResult(crop_ts, pasted, face_s, face_t)

    def interpolate(
        self,
        face_a: Any,
        face_b: Any,
        target: Any,
        *,
        steps: int = 8,
        domain: Domain = "target",
        aligned: bool = False,
    ) -> np.ndarray:
        """Faces whose AUs move linearly from ``face_a``'s to ``face_b``'s (the paper's Fig. 2).

        ``x_k = G([(1 - t_k) E_au(a) + t_k E_au(b), E_dm(target)])`` with ``t_k`` evenly
        spaced over ``[0, 1]``.

        Returns:
            ``(steps, S, S, 3)`` uint8 aligned crops, first ``t = 0`` (``a``'s AUs).

        Example:
            >>> strip = model.interpolate("a.jpg", "b.jpg", "me.jpg", steps=8)  # doctest: +SKIP
            >>> strip.shape  # doctest: +SKIP
            (8, 128, 128, 3)
        """
        if steps < 2:
            raise InputError(f"steps must be at least 2, got {steps}")
        crops = [self._face(img, aligned)[2] for img in (face_a, face_b, target)]
        x = self._model_input(crops)
        with torch.inference_mode():
            a = self.model.encode_au(x[:2])
            d_t = self.model.encode_dm(x[2:], _check_domain(domain))
            t = torch.linspace(0, 1, steps, device=a.device).view(-1, 1, 1, 1)
            a_k = (1 - t) * a[:1] + t * a[1:]  # (steps, C, f, f)
        return self._decode(a_k, d_t.expand(steps, -1, -1, -1))

    # ---------------------------------------------------------------- helpers
    def _face(
        self, image: Any, aligned: bool
    ) -> tuple[np.ndarray, Face | None, np.ndarray, np.ndarray | None]:
        """``(rgb, face, crop, matrix)`` for the highest-scoring face of one still image."""
        if isinstance(image, (str, Path)) and Path(image).suffix.lower() in VIDEO_EXTENSIONS:
            raise InputError(f"{image}: expected an image, got a video")
        rgb = to_rgb(image)
        name = str(image) if isinstance(image, (str, Path)) else "the image"
        if aligned:
            return rgb, None, self._aligned_crop(rgb, name), None
        faces = self.detector.detect([rgb])[0]
        if not faces:
            raise NoFaceError(f"no face found in {name}")
        crop, matrix = align_face(rgb, faces[0].landmarks, self.config.image_size)
        return rgb, faces[0], crop, matrix

    def _aligned_crop(self, image: np.ndarray, name: str) -> np.ndarray:
        import cv2

        height, width = image.shape[:2]
        if height != width:
            raise InputError(f"{name}: an aligned face crop must be square, got {width}x{height}")
        size = self.config.image_size
        if height == size:
            return image
        interpolation = cv2.INTER_AREA if height > size else cv2.INTER_LINEAR
        return cv2.resize(image, (size, size), interpolation=interpolation)

    def _model_input(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        return to_model_input(torch.from_numpy(np.stack(crops)).to(self.device), self.config)

    def _decode(self, a: torch.Tensor, d: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return to_uint8_images(self.model.decode(a, d), self.config)


def _batches(frames: Iterable[Frame], size: int) -> Iterator[list[Frame]]:
    iterator = iter(frames)
    while batch := list(islice(iterator, size)):
        yield batch


def _as_list(images: Any) -> list[Any]:
    if isinstance(images, list | tuple):
        return list(images)
    if getattr(images, "ndim", 0) == 4:
        return list(images)
    return [images]


def _check_domain(domain: str) -> Domain:
    if domain not in ("source", "target"):
        raise InputError(f"domain must be 'source' or 'target', got {domain!r}")
    return domain  # type: ignore[return-value]
