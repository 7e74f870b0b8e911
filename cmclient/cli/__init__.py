"""The ``cmclient`` command line: ``aws comprehendmedical``'s commands, flags, output
and exit codes, on cmclient. ``main(argv)`` runs it and returns the exit code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["COMMANDS", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the
    exit code."""
    from cmclient.cli._main import main as run

    return run(argv)


def __getattr__(name: str) -> Any:
    if name == "COMMANDS":
        from cmclient.cli._main import COMMANDS

        return COMMANDS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
