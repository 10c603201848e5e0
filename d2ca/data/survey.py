"""What a dataset tree holds, from names and labels only: ``d2ca prepare DATASET ROOT --check``.

A survey reads a tree the way :func:`d2ca.data.prepare.prepare` will (the same readers, no
image decoded, no face detected: seconds, not hours) and says what a full run would use:
subjects, tasks or videos, labelled frames with and without an image, the unknown share
per AU, the fold or split of each subject, the frame offsets chosen, and the readers' notes.

Folds: BP4D and DISFA default to the subject-exclusive lists published with JAA-Net and
ME-GraphAU (``d2ca/data/published_folds.json``); BP4D+, for which no public list was
found, deals its sorted subjects round-robin; GFT and Aff-Wild2 have official splits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from d2ca.aus import au_name
from d2ca.data.readers import Scan, dataset_key, scanner_for, subject_folds
from d2ca.data.readers.base import DatasetError, read_folds

NUM_FOLDS = 3
DATASET_NAMES = {"bp4d": "BP4D", "bp4d+": "BP4D+", "disfa": "DISFA", "gft": "GFT",
                 "affwild2": "Aff-Wild2"}  # fmt: skip


def published_folds(dataset: str) -> tuple[dict[str, int], str] | None:
    """``(subject -> fold, source)`` of a dataset's published 3-fold lists, else ``None``.

    A subject of part ``p`` (1-3) gets fold ``3 - p``: d2ca's fold ``k`` is the published
    fold ``k + 1``, which tests on part ``3 - k`` (their fold 1 tests on part 3).

    >>> folds, _ = published_folds("bp4d")
    >>> folds["F007"], folds["M011"], folds["F001"], len(folds)
    (0, 1, 2, 41)
    """
    text = resources.files("d2ca.data").joinpath("published_folds.json").read_text()
    entry = json.loads(text).get(dataset_key(dataset))
    if entry is None:
        return None
    parts = entry["parts"]
    folds = {s: NUM_FOLDS - p for p, part in enumerate(parts, start=1) for s in part}
    return folds, f"published folds of {entry['source']}"


def choose_folds(
    dataset: str, subjects: Iterable[str], folds: str | Path | None = None
) -> tuple[dict[str, int], str]:
    """``(subject -> fold, where it comes from)``: ``folds`` (a folds.json) if given, else
    the published lists, else sorted subjects dealt round-robin.

    Raises:
        DatasetError: a subject without a fold, or a fold outside 0-2.
    """
    subjects = sorted(set(subjects))
    published = published_folds(dataset)
    if folds:
        fold_of, source, where = read_folds(Path(folds)), f"{folds}", f"{folds}"
    elif published is not None:
        (fold_of, source), where = published, "the published folds (--folds FILE for others)"
    else:
        fold_of = subject_folds(subjects, NUM_FOLDS)
        source = "sorted subjects dealt round-robin (no public fold list)"
        where = source
    missing = [s for s in subjects if s not in fold_of]
    if missing:
        raise DatasetError(f"{where}: no fold for subject(s) {', '.join(missing[:5])}")
    if not {fold_of[s] for s in subjects} <= set(range(NUM_FOLDS)):
        raise DatasetError(f"{where}: folds must be 0, 1 or 2")
    return {s: fold_of[s] for s in subjects}, source


@dataclass(frozen=True)
class Survey:
    """What a full ``prepare`` of a tree would use.

    Attributes:
        dataset: registry name (``"bp4d"``).
        root: the tree.
        scan: the reader's :class:`~d2ca.data.readers.base.Scan`.
        fold_of: ``subject -> fold`` for fold datasets; empty where official splits hold.
        folds_from: where ``fold_of`` comes from (empty with official splits).
    """

    dataset: str
    root: Path
    scan: Scan
    fold_of: dict[str, int]
    folds_from: str

    def unknown_share(self) -> dict[str, float]:
        """Share of frames (with an image) whose label is unknown, per AU column."""
        records = self.scan.records
        counts: dict[str, int] = {}
        for r in records:
            for a, v in zip(r.aus, r.labels, strict=True):
                counts[au_name(a)] = counts.get(au_name(a), 0) + (v < 0)
        return {a: n / len(records) for a, n in counts.items()}


def survey(
    dataset: str, root: str | Path, *, folds: str | Path | None = None, **reader_options: object
) -> Survey:
    """Read a tree's names and labels and choose its folds; no image is decoded.

    Args:
        dataset: ``bp4d``, ``bp4d+``, ``disfa``, ``gft`` or ``affwild2`` (or an alias).
        root: the dataset folder as distributed.
        folds: a ``folds.json`` to use instead of the default folds.
        **reader_options: passed to the reader (``partitions=``, ``camera=``,
            ``frame_offset=``).

    Raises:
        DatasetError: a tree that cannot be used, naming the path expected.

    Example:
        >>> s = survey("bp4d", "/data/BP4D")  # doctest: +SKIP
        >>> print(format_survey(s))  # doctest: +SKIP
    """
    key = dataset_key(dataset)
    scan = scanner_for(key)(Path(root), **reader_options)
    fold_of, source = {}, ""
    if all(r.split is None for r in scan.records):
        fold_of, source = choose_folds(key, (r.subject for r in scan.records), folds)
    return Survey(key, Path(root), scan, fold_of, source)


def format_survey(s: Survey) -> str:
    """The survey as lines of text (what ``d2ca prepare --check`` prints)."""
    scan, records = s.scan, s.scan.records
    subjects = sorted({r.subject for r in records} | {m.subject for m in scan.no_image})
    videos = {(r.subject, r.video) for r in records} | {(m.subject, m.video) for m in scan.no_image}
    labelled = len(records) + len(scan.no_image)
    lines = [
        f"{DATASET_NAMES[s.dataset]} at {s.root}: usable",
        f"subjects: {len(subjects)}; tasks or videos: {len(videos)}",
        f"labelled frames: {labelled}; with an image: {len(records)}; "
        f"without an image: {len(scan.no_image)}",
    ]
    if scan.no_image:
        m = scan.no_image[0]
        lines.append(f"  first without an image: {m.label_file} line {m.line} ({m.expected})")
    share = ", ".join(f"{a} {100 * v:.1f}%" for a, v in s.unknown_share().items())
    lines.append(f"unknown share per AU: {share}")
    if s.fold_of:
        lines.append(f"folds: {s.folds_from}")
        for k in range(NUM_FOLDS):
            members = [subject for subject, f in s.fold_of.items() if f == k]
            line = f"  fold {k} ({len(members)} subjects)"
            lines.append(f"{line}: {' '.join(members)}" if members else line)
    else:
        for split in sorted({r.split for r in records if r.split}):
            chosen = [r for r in records if r.split == split]
            n = len({r.subject for r in chosen})
            lines.append(f"split {split}: {n} subjects or videos, {len(chosen)} frames")
    if scan.offsets:
        lines.append("frame offsets (image number = CSV frame + offset), per task:")
        for offset in sorted({o for o, _ in scan.offsets.values()}):
            tasks = [t for t, (o, _) in scan.offsets.items() if o == offset]
            lines.append(f"  {offset}: {len(tasks)} tasks: {' '.join(tasks)}")
        ties = [f"{t} ({why})" for t, (_, why) in scan.offsets.items() if why.startswith("both")]
        if ties:
            lines.append(f"  decided by numbering, not by coverage: {', '.join(ties)}")
    lines += [f"note: {n}" for n in scan.notes]
    return "\n".join(lines)
