"""Results of :meth:`d2ca.D2CA.detect_aus` and :meth:`d2ca.D2CA.swap_aus` as dataclasses and tables.

Column names follow OpenFace and py-feat so existing analysis code reads our CSV:
``input, frame, face_id, timestamp, confidence, success``, the face box
``FaceRectX, FaceRectY, FaceRectWidth, FaceRectHeight`` (py-feat), the five landmarks
``x_0..x_4, y_0..y_4`` (OpenFace; left eye, right eye, nose, left and right mouth corner),
then ``AU01, AU02, ...`` (probability) and ``AU01_c, AU02_c, ...`` (presence, 0/1).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from d2ca.face import Face
from d2ca.io import atomic_path

_BOX_COLUMNS = ("FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight")
_LANDMARK_COLUMNS = tuple(f"x_{i}" for i in range(5)) + tuple(f"y_{i}" for i in range(5))


@dataclass(frozen=True)
class FaceAUs:
    """One row: a face in a frame, or a frame in which no face was found (``success=False``).

    Attributes:
        source: file path, or ``<image N>`` for an in-memory image.
        frame: frame index in the video (0 for a still).
        timestamp: seconds from the start of the video (0 for a still).
        face_id: identity kept across the frames of a video by box overlap; -1 without a face.
        success: whether a face was found.
        face: the detection (box, score, landmarks); ``None`` without a face and for input
            that was already aligned (then ``confidence`` and the box columns are empty).
        probabilities: ``(A,)`` AU probabilities; ``None`` without a face.
        presence: ``(A,)`` bool, ``probabilities >= thresholds``; ``None`` without a face.
    """

    source: str
    frame: int
    timestamp: float
    face_id: int
    success: bool
    face: Face | None = None
    probabilities: np.ndarray | None = None
    presence: np.ndarray | None = None


@dataclass(frozen=True)
class AUResult:
    """Per-face AU probabilities and decisions for everything :meth:`D2CA.detect_aus` read.

    Example:
        >>> result = model.detect_aus("face.jpg")  # doctest: +SKIP
        >>> result.probabilities.shape, result.columns[:3]  # doctest: +SKIP
        ((1, 12), ('input', 'frame', 'face_id'))
    """

    au_names: tuple[str, ...]
    thresholds: tuple[float, ...]
    rows: tuple[FaceAUs, ...]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def probabilities(self) -> np.ndarray:
        """``(n_rows, A)`` float32; NaN in rows without a face."""
        out = np.full((len(self.rows), len(self.au_names)), np.nan, np.float32)
        for i, row in enumerate(self.rows):
            if row.probabilities is not None:
                out[i] = row.probabilities
        return out

    @property
    def presence(self) -> np.ndarray:
        """``(n_rows, A)`` int8: 1 present, 0 absent, -1 in rows without a face."""
        out = np.full((len(self.rows), len(self.au_names)), -1, np.int8)
        for i, row in enumerate(self.rows):
            if row.presence is not None:
                out[i] = row.presence
        return out

    @property
    def columns(self) -> tuple[str, ...]:
        meta = ("input", "frame", "face_id", "timestamp", "confidence", "success")
        present = tuple(f"{name}_c" for name in self.au_names)
        return meta + _BOX_COLUMNS + _LANDMARK_COLUMNS + self.au_names + present

    def records(self) -> list[dict[str, Any]]:
        """One dict per row keyed by :attr:`columns`; ``None`` where a value does not exist."""
        out = []
        nan_box: list[float | None] = [None] * 4
        nan_points: list[float | None] = [None] * 10
        for row in self.rows:
            face = row.face
            if face is not None:
                x1, y1, x2, y2 = (float(v) for v in face.box)
                box: list[float | None] = [x1, y1, x2 - x1, y2 - y1]
                points: list[float | None] = [float(v) for v in face.landmarks.T.reshape(-1)]
            else:
                box, points = nan_box, nan_points
            probs = [None] * len(self.au_names) if row.probabilities is None else row.probabilities
            present = [None] * len(self.au_names) if row.presence is None else row.presence
            values = [
                row.source,
                row.frame,
                row.face_id,
                row.timestamp,
                face.score if face is not None else None,
                int(row.success),
                *box,
                *points,
                *(None if p is None else float(p) for p in probs),
                *(None if p is None else int(p) for p in present),
            ]
            out.append(
                {
                    k: None if isinstance(v, float) and math.isnan(v) else v
                    for k, v in zip(self.columns, values, strict=True)
                }
            )
        return out

    def to_csv(self, path: str | Path | None = None, *, overwrite: bool = False) -> str | None:
        """Write the table as CSV to ``path`` (atomically), or return it when ``path`` is None.

        Missing values (no face) are empty cells.
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        for record in self.records():
            writer.writerow(["" if v is None else _fmt(v) for v in record.values()])
        return _write(buffer.getvalue(), path, overwrite)

    def to_json(self, path: str | Path | None = None, *, overwrite: bool = False) -> str | None:
        """Write the rows as a JSON list of objects (``null`` for missing values), or return it."""
        return _write(json.dumps(self.records(), indent=1) + "\n", path, overwrite)

    def to_pandas(self) -> Any:
        """The table as a ``pandas.DataFrame`` (needs pandas: ``pip install d2ca[pandas]``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "to_pandas needs pandas: pip install 'd2ca[pandas]' (or use to_csv / records)"
            ) from None
        return pd.DataFrame.from_records(self.records(), columns=list(self.columns))


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _write(text: str, path: str | Path | None, overwrite: bool) -> str | None:
    if path is None:
        return text
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text)
    return None


@dataclass(frozen=True)
class SwapResult:
    """Output of :meth:`D2CA.swap_aus`.

    Attributes:
        crop: ``S x S x 3`` uint8, the aligned synthesised face ``G([E_au(I_s), E_dm(I_t)])``.
        image: the target image with ``crop`` pasted back (``None`` when ``paste=False``).
        source_face: the face whose AUs were taken.
        target_face: the face whose domain (identity, appearance) was kept.
    """

    crop: np.ndarray
    image: np.ndarray | None
    source_face: Face | None
    target_face: Face | None
