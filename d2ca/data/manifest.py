"""The manifest: one CSV describing a folder of face crops, shared by every dataset.

Columns: ``path`` (relative to the CSV's folder, or absolute), ``subject``, then one column
per AU named as OpenFace does (``AU01``) holding 1, 0 or -1 (unknown). Optional columns the
library understands: ``split`` (train / val / test), ``domain``, ``video``, ``frame``,
``fold``. Any other column (intensities ``AU01_r``, nuisance parameters) is carried along.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from d2ca.aus import au_number
from d2ca.errors import InputError
from d2ca.io import atomic_path

REQUIRED = ("path", "subject")


class ManifestError(InputError):
    """A manifest CSV that cannot be read; the message names the file and line."""


def is_au_column(name: str) -> bool:
    return len(name) == 4 and name.upper().startswith("AU") and name[2:].isdigit()


@dataclass
class Manifest:
    """Rows of a manifest with the label matrix split out.

    Attributes:
        root: folder that relative ``path`` entries are resolved against.
        rows: every column of every row, as strings.
        au_names: the AU columns, in file order (``"AU01"``, ...).
        labels: ``(n, num_aus)`` int8 array of 1 / 0 / -1.
    """

    root: Path
    rows: list[dict[str, str]]
    au_names: tuple[str, ...]
    labels: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    def image_path(self, i: int) -> Path:
        p = Path(self.rows[i]["path"])
        return p if p.is_absolute() else self.root / p

    def column(self, name: str) -> list[str]:
        return [r.get(name, "") for r in self.rows]

    @property
    def subjects(self) -> list[str]:
        return self.column("subject")

    def select(self, mask: Sequence[bool] | np.ndarray) -> Manifest:
        """The rows where ``mask`` is true."""
        mask = np.asarray(mask, dtype=bool)
        rows = [r for r, keep in zip(self.rows, mask, strict=True) if keep]
        return Manifest(self.root, rows, self.au_names, self.labels[mask])

    def split(self, name: str) -> Manifest:
        """The rows of one split (``train`` / ``val`` / ``test``); all rows if no ``split``."""
        if not self.rows or "split" not in self.rows[0]:
            return self
        return self.select([r["split"] == name for r in self.rows])

    def with_aus(self, au_names: Sequence[str]) -> Manifest:
        """Restrict (and reorder) the label columns; an AU the manifest lacks is an error."""
        missing = [a for a in au_names if a not in self.au_names]
        if missing:
            raise ManifestError(f"manifest has no column for {', '.join(missing)}")
        idx = [self.au_names.index(a) for a in au_names]
        return Manifest(self.root, self.rows, tuple(au_names), self.labels[:, idx])


def read_manifest(path: str | Path) -> Manifest:
    """Read a manifest CSV; a missing column or a label outside {1, 0, -1} is an error."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.csv"
    if not path.is_file():
        raise ManifestError(f"{path}: no such manifest file")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ManifestError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
        au_names = tuple(c for c in header if is_au_column(c))
        if not au_names:
            raise ManifestError(f"{path}: line 1: no AU columns (e.g. AU01)")
        for name in au_names:
            au_number(name)
        rows: list[dict[str, str]] = []
        labels = []
        for lineno, row in enumerate(reader, start=2):
            if None in row or any(v is None for v in row.values()):
                raise ManifestError(f"{path}: line {lineno}: expected {len(header)} columns")
            try:
                values = [int(float(row[a])) for a in au_names]
            except ValueError:
                raise ManifestError(
                    f"{path}: line {lineno}: AU labels must be 1, 0 or -1"
                ) from None
            if any(v not in (1, 0, -1) for v in values):
                raise ManifestError(f"{path}: line {lineno}: AU labels must be 1, 0 or -1")
            rows.append(row)
            labels.append(values)
    array = np.asarray(labels, dtype=np.int8).reshape(len(rows), len(au_names))
    return Manifest(path.parent, rows, au_names, array)


def write_manifest(
    path: str | Path, rows: Sequence[dict[str, object]], *, overwrite: bool = False
) -> Path:
    """Write rows (dicts with ``path``, ``subject``, ``AUxx`` and any other keys) atomically."""
    path = Path(path)
    if not rows:
        raise ManifestError(f"{path}: no rows to write")
    header = list(rows[0])
    for key in (k for r in rows for k in r):
        if key not in header:
            header.append(key)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ManifestError(f"{path}: rows lack column(s) {', '.join(missing)}")
    with atomic_path(path, overwrite=overwrite) as tmp:
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header, restval="")
            writer.writeheader()
            writer.writerows(rows)
    return path


def parse_data_spec(spec: str | Path) -> tuple[str | None, Path]:
    """``"bp4d:DIR"`` -> ``("bp4d", Path(DIR))``; a plain folder or CSV has no dataset name.

    >>> parse_data_spec("disfa:/data/disfa")
    ('disfa', PosixPath('/data/disfa'))
    """
    from d2ca.aus import DATASET_AUS

    text = str(spec)
    name, sep, rest = text.partition(":")
    if sep and name.lower() in DATASET_AUS:
        return name.lower(), Path(rest)
    if sep and not Path(text).exists() and len(name) > 1:
        raise ManifestError(
            f"unknown dataset {name!r} in {text!r}; known: {', '.join(DATASET_AUS)}"
        )
    return None, Path(text)
