"""Layer ``cli``: click commands, rich output and exit codes. The only layer that prints.

Modules import one way only: ``commands`` and ``progress`` use ``app`` (the group, the
consoles); ``main`` here loads ``commands``, which registers them on the group.
"""

from __future__ import annotations

import sys

from studykit.cli.app import cli

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``studykit``)."""
    from studykit.cli import commands  # noqa: F401  (registers the commands)

    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="studykit")
