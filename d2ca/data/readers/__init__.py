"""Readers of the five datasets as distributed, and the registry ``READERS``.

Each reader takes the dataset's root folder and returns a list of
:class:`~d2ca.data.readers.base.FrameRecord`: image path or (video, index), subject,
video/task, frame number, and the dataset's AU labels as 1 / 0 / -1.

Example:
    >>> from d2ca.data.readers import READERS
    >>> sorted(READERS)
    ['affwild2', 'bp4d', 'bp4d+', 'disfa', 'gft']
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from d2ca.data.readers import affwild2, bp4d, bp4d_plus, disfa, gft
from d2ca.data.readers.base import DatasetError, FrameRecord, subject_folds

READERS: dict[str, Callable[[Path], list[FrameRecord]]] = {
    "bp4d": bp4d.read,
    "bp4d+": bp4d_plus.read,
    "disfa": disfa.read,
    "gft": gft.read,
    "affwild2": affwild2.read,
}

ALIASES = {"bp4dplus": "bp4d+", "bp4d_plus": "bp4d+", "aff-wild2": "affwild2", "aw2": "affwild2"}


def reader_for(name: str) -> Callable[[Path], list[FrameRecord]]:
    """The reader registered under ``name`` (case-insensitive, with a few aliases).

    >>> reader_for("BP4D+") is READERS["bp4d+"]
    True
    """
    key = ALIASES.get(name.lower(), name.lower())
    if key not in READERS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(READERS)}")
    return READERS[key]


def dataset_key(name: str) -> str:
    """Canonical registry name of a dataset name or alias (``"Aff-Wild2"`` -> ``"affwild2"``)."""
    key = ALIASES.get(name.lower(), name.lower())
    reader_for(key)
    return key


__all__ = ["READERS", "DatasetError", "FrameRecord", "dataset_key", "reader_for", "subject_folds"]
