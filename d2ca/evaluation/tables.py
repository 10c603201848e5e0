"""Per-AU F1 tables laid out like the paper's, beside the paper's published rows.

The published numbers (Tables I-IX) live in ``d2ca/evaluation/published.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from d2ca.aus import au_number
from d2ca.errors import InputError


@dataclass(frozen=True)
class PublishedTable:
    """The paper's rows for one source -> target pair.

    Attributes:
        table: roman numeral of the paper's table.
        source, target: dataset names (``bp4d``, ``bp4d+``, ``disfa``, ``gft``, ``affwild2``).
        aus: AU column names (``AU01``...), in the paper's order.
        rows: ``method -> (per-AU F1 in %, AVE in %)``, in the paper's order.
    """

    table: str
    source: str
    target: str
    aus: tuple[str, ...]
    rows: dict[str, tuple[tuple[float, ...], float]]


@cache
def _published() -> dict:
    return json.loads(resources.files("d2ca.evaluation").joinpath("published.json").read_text())


def published_pairs() -> list[tuple[str, str]]:
    """The ``(source, target)`` pairs of the paper's cross-domain tables (III-VI)."""
    return [(p["source"], p["target"]) for p in _published()["cross_domain"]]


def published_table(source: str, target: str) -> PublishedTable:
    """The paper's table for ``source -> target``.

    Raises:
        InputError: when the paper has no table for the pair (the message lists those it has).

    Example:
        >>> t = published_table("bp4d", "disfa")
        >>> t.table, t.aus, t.rows["D2CA"][1]
        ('III', ('AU01', 'AU02', 'AU04', 'AU06', 'AU12'), 46.6)
    """
    for p in _published()["cross_domain"]:
        if (p["source"], p["target"]) == (source.lower(), target.lower()):
            rows = {r["method"]: (tuple(r["f1"]), r["avg"]) for r in p["rows"]}
            return PublishedTable(p["table"], p["source"], p["target"], tuple(p["aus"]), rows)
    pairs = ", ".join(f"{p['source']}->{p['target']}" for p in _published()["cross_domain"])
    raise InputError(f"the paper has no table for {source} -> {target}; it has {pairs}")


def published_ablation(source: str, target: str) -> dict[str, dict[str, float]]:
    """Tables VIII (average F1) and IX (FID) for a pair: ``{"avg_f1": {model: value}, "fid": ...}``.

    Empty when the paper's ablation does not cover the pair.

    >>> published_ablation("bp4d+", "disfa")["fid"]["D2CA"]
    46.9
    """
    key = f"{source.lower()}->{target.lower()}"
    out: dict[str, dict[str, float]] = {}
    for measure, table in _published()["ablation"].items():
        if key in table["pairs"]:
            i = table["pairs"].index(key)
            out[measure] = {model: values[i] for model, values in table["rows"].items()}
    return out


def format_table(
    rows: Mapping[str, Mapping[str, float]],
    aus: Sequence[str],
    *,
    title: str | None = None,
) -> str:
    """A plain-text table like the paper's: ``AU 1 2 4 ... AVE`` then one line per row.

    Args:
        rows: ``name -> {AU name: F1 in %}``; a missing AU prints ``-``. The AVE column is
            the mean over ``aus`` unless a row has an ``"AVE"`` entry (published rows keep
            the paper's printed average).
        aus: AU names in column order.
        title: a first line such as ``Source: BP4D. Target: DISFA.``

    Example:
        >>> print(format_table({"model": {"AU01": 50.0, "AU02": 25.0}}, ["AU01", "AU02"]))
        AU        1     2   AVE
        model  50.0  25.0  37.5
    """
    names = list(rows)
    width = max([len("AU"), *map(len, names)])
    header = ["AU".ljust(width)] + [f"{au_number(a):>5d}" for a in aus] + ["  AVE"]
    lines = [title] if title else []
    lines.append(" ".join(header))
    for name in names:
        row = rows[name]
        cells = [f"{row[a]:5.1f}" if a in row else "    -" for a in aus]
        known = [row[a] for a in aus if a in row]
        avg = row.get("AVE", sum(known) / len(known) if known else float("nan"))
        lines.append(" ".join([name.ljust(width), *cells, f"{avg:5.1f}"]))
    return "\n".join(lines)


def paper_rows(table: PublishedTable) -> dict[str, dict[str, float]]:
    """Published rows as :func:`format_table` rows, each with the paper's printed AVE."""
    out = {}
    for method, (f1, avg) in table.rows.items():
        out[f"{method} (paper)"] = {**dict(zip(table.aus, f1, strict=True)), "AVE": avg}
    return out
