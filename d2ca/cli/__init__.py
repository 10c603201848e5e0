"""``d2ca`` command line. Each module registers its commands on the shared app."""

from d2ca.cli import adapt, datasets, infer, synth, train  # noqa: F401  (register commands)
from d2ca.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
