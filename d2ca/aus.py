"""FACS action-unit vocabulary and the AU subsets of the datasets and domain pairs."""

from __future__ import annotations

AU_DESCRIPTIONS: dict[int, str] = {
    1: "inner brow raiser",
    2: "outer brow raiser",
    4: "brow lowerer",
    5: "upper lid raiser",
    6: "cheek raiser",
    7: "lid tightener",
    9: "nose wrinkler",
    10: "upper lip raiser",
    12: "lip corner puller",
    14: "dimpler",
    15: "lip corner depressor",
    17: "chin raiser",
    20: "lip stretcher",
    23: "lip tightener",
    24: "lip pressor",
    25: "lips part",
    26: "jaw drop",
}

# AUs annotated (and used by the paper) per dataset.
DATASET_AUS: dict[str, tuple[int, ...]] = {
    "bp4d": (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),
    "bp4d+": (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),
    "disfa": (1, 2, 4, 6, 9, 12, 25, 26),
    "gft": (1, 2, 4, 6, 10, 12, 14, 15, 23, 24),
    "affwild2": (1, 2, 4, 6, 7, 10, 12, 15, 23, 24, 25, 26),
    "synthau": (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),
}

# The AUs the paper evaluates for each pair of datasets (Section IV); order-free.
_PAIR_AUS: dict[frozenset[str], tuple[int, ...]] = {
    frozenset({"bp4d", "disfa"}): (1, 2, 4, 6, 12),
    frozenset({"bp4d", "gft"}): (1, 2, 4, 6, 10, 12, 14, 15, 23, 24),
    frozenset({"affwild2", "bp4d"}): (1, 2, 4, 6, 7, 10, 12, 15, 23, 24),
    frozenset({"affwild2", "gft"}): (1, 2, 4, 6, 10, 12, 15, 23, 24),
}


def au_name(number: int) -> str:
    """Column name of an AU as OpenFace and py-feat write it: ``au_name(1) == "AU01"``."""
    return f"AU{number:02d}"


def au_number(name: str) -> int:
    """Inverse of :func:`au_name`: ``au_number("AU01") == 1``."""
    if not name.upper().startswith("AU") or not name[2:].isdigit():
        raise ValueError(f"not an AU name: {name!r} (expected e.g. 'AU01')")
    return int(name[2:])


def shared_aus(source: str, target: str) -> tuple[int, ...]:
    """AUs evaluated for a source/target pair of datasets.

    BP4D+ shares BP4D's AUs. Pairs the paper names use its subsets; other pairs (SynthAU,
    or two presets of one dataset) use the intersection of the datasets' AUs.

    >>> shared_aus("bp4d+", "disfa")
    (1, 2, 4, 6, 12)
    """
    names = []
    for dataset in (source, target):
        key = dataset.lower()
        if key not in DATASET_AUS:
            raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASET_AUS)}")
        names.append("bp4d" if key == "bp4d+" else key)
    pair = frozenset(names)
    if pair in _PAIR_AUS:
        return _PAIR_AUS[pair]
    common = set(DATASET_AUS[names[0]]) & set(DATASET_AUS[names[1]])
    return tuple(sorted(common))
