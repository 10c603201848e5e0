"""BP4D+ as distributed: the BP4D layout (``2D+3D/F001/T1/*.jpg``, ``AUCoding/AU_OCC``).

The occurrence CSVs of BP4D+ code more AUs than the twelve used; the others are ignored.
"""

from __future__ import annotations

from pathlib import Path

from d2ca.aus import DATASET_AUS
from d2ca.data.readers.base import FrameRecord
from d2ca.data.readers.bp4d import FRAME_FOLDERS, read_tasks


def read(root: str | Path) -> list[FrameRecord]:
    """Every labelled frame of a BP4D+ tree (see :func:`d2ca.data.readers.bp4d.read`).

    Example:
        >>> read("/data/BP4D+")[0].aus  # doctest: +SKIP
        (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
    """
    return read_tasks(Path(root), DATASET_AUS["bp4d+"], FRAME_FOLDERS)
