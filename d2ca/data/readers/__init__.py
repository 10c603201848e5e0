"""Readers of the five datasets as distributed, and the registries ``SCANNERS`` and ``READERS``.

Each scanner takes the dataset's root folder and returns a
:class:`~d2ca.data.readers.base.Scan`: the list of
:class:`~d2ca.data.readers.base.FrameRecord` (image path or (video, index), subject,
video/task, frame number, and the dataset's AU labels as 1 / 0 / -1), the labelled frames
without an image, the frame offsets chosen and notes. A reader returns the records only.

Example:
    >>> from d2ca.data.readers import READERS
    >>> sorted(READERS)
    ['affwild2', 'bp4d', 'bp4d+', 'disfa', 'gft']
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from d2ca.data.readers import affwild2, bp4d, bp4d_plus, disfa, gft
from d2ca.data.readers.base import DatasetError, FrameRecord, Scan, subject_folds

SCANNERS: dict[str, Callable[..., Scan]] = {
    "bp4d": bp4d.scan,
    "bp4d+": bp4d_plus.scan,
    "disfa": disfa.scan,
    "gft": gft.scan,
    "affwild2": affwild2.scan,
}


def _records_of(scan: Callable[..., Scan]) -> Callable[..., list[FrameRecord]]:
    @functools.wraps(scan)
    def read(root: str | Path, **options: object) -> list[FrameRecord]:
        return scan(root, **options).records

    return read


READERS: dict[str, Callable[..., list[FrameRecord]]] = {
    name: _records_of(scan) for name, scan in SCANNERS.items()
}

ALIASES = {"bp4dplus": "bp4d+", "bp4d_plus": "bp4d+", "aff-wild2": "affwild2", "aw2": "affwild2"}


def dataset_key(name: str) -> str:
    """Canonical registry name of a dataset name or alias (``"Aff-Wild2"`` -> ``"affwild2"``)."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in READERS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(READERS)}")
    return key


def reader_for(name: str) -> Callable[..., list[FrameRecord]]:
    """The reader registered under ``name`` (case-insensitive, with a few aliases).

    >>> reader_for("BP4D+") is READERS["bp4d+"]
    True
    """
    return READERS[dataset_key(name)]


def scanner_for(name: str) -> Callable[..., Scan]:
    """The scanner registered under ``name`` (see :func:`reader_for`)."""
    return SCANNERS[dataset_key(name)]


__all__ = [
    "READERS",
    "SCANNERS",
    "DatasetError",
    "FrameRecord",
    "Scan",
    "dataset_key",
    "reader_for",
    "scanner_for",
    "subject_folds",
]
