"""Atomic output files: written beside the destination, then renamed into place."""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class OutputExistsError(FileExistsError):
    """An output path exists and overwriting was not asked for."""


@contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the destination's folder; rename it onto ``path`` on success.

    Nothing is left behind when the body raises, and an existing ``path`` is never replaced
    unless ``overwrite`` is true.

    Example:
        >>> with atomic_path(tmp / "out.csv") as tmp_path:  # doctest: +SKIP
        ...     tmp_path.write_text("a,b\\n")
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists (pass overwrite to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o666 & ~umask)  # mkstemp creates 0600; give the file a normal file's mode
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_partial(path: str | Path) -> None:
    """Delete the temporary files a killed :func:`atomic_path` left beside ``path``.

    A process killed outright (``SIGKILL``, a scheduler's time limit) runs no cleanup; its
    half-written ``.NAME.XXXXXXXX.SUFFIX`` stays. Call this only for paths this process owns.
    """
    path = Path(path)
    pattern = f".{glob.escape(path.name)}.*{glob.escape(path.suffix)}"
    for leftover in path.parent.glob(pattern):
        leftover.unlink(missing_ok=True)
