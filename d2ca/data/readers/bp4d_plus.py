"""BP4D+ as distributed: frames zipped per subject (``2D+3D/F001.zip`` holding
``F001/T1/*.jpg``, names of 3 or 4 digits) or unzipped in the BP4D layout, and
``AUCoding/AU_OCC/F001_T1.csv``.

Frames are read from the zip archives directly (nothing is extracted). The occurrence CSVs
code more AUs than the twelve used; the others are ignored.

Public loaders disagree on whether CSV frame ``f`` is image number ``f`` or ``f - 1``
(rPPG-Toolbox's BP4D+ loader treats CSV frames as 1-based positions in the zip). With the
default ``frame_offset="auto"`` each task's offset is chosen by comparing its CSV frames
with its image numbers (:func:`~d2ca.data.readers.bp4d.choose_offset`) and reported;
``0`` or ``-1`` forces one for every task.
"""

from __future__ import annotations

from pathlib import Path

from d2ca.aus import DATASET_AUS
from d2ca.data.readers.base import Scan
from d2ca.data.readers.bp4d import FRAME_FOLDERS, read_tasks


def scan(root: str | Path, frame_offset: int | str = "auto") -> Scan:
    """Every labelled frame of a BP4D+ tree (see :func:`d2ca.data.readers.bp4d.scan`).

    Args:
        root: the BP4D+ folder.
        frame_offset: ``"auto"`` (per task), or ``0`` / ``-1``: image number = CSV frame + offset.

    Example:
        >>> s = scan("/data/BP4D+")  # doctest: +SKIP
        >>> s.records[0].aus, s.offsets["F001/T1"]  # doctest: +SKIP
        ((1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24), (-1, 'lines up 500 of 500 ...'))
    """
    return read_tasks(Path(root), DATASET_AUS["bp4d+"], FRAME_FOLDERS, frame_offset)
