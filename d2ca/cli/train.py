"""CLI commands (train)."""

from d2ca.cli.app import command  # noqa: F401
