"""The Typer application and the one place where user errors become one-line messages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

import typer

from d2ca.errors import D2CAError

DeviceOption = Annotated[
    str,
    typer.Option(
        help="torch device: auto (a GPU when present: CUDA, then MPS; else cpu), cpu, cuda, cuda:N."
    ),
]

app = typer.Typer(
    name="d2ca",
    help="Cross-domain facial action unit detection (D2CA): detect, swap, train, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def command(
    *args: Any, on: typer.Typer | None = None, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``app.command`` whose D2CA and OS errors print ``error: ...`` and exit with code 1
    (2 for an error that says so, like a device this machine does not have).

    ``on`` registers the command on a sub-app (e.g. ``d2ca plot ...``) instead of ``app``.
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*a: Any, **k: Any) -> Any:
            try:
                return fn(*a, **k)
            except (D2CAError, OSError) as e:
                message = " ".join(str(e).split()) or type(e).__name__
                typer.echo(f"error: {message}", err=True)
                raise typer.Exit(getattr(e, "exit_code", 1)) from None

        return (on or app).command(*args, **kwargs)(run)

    return register
