"""Layer ``cli``: click commands, rich output and exit codes. The only layer that prints."""

from studykit.cli.app import cli, main

__all__ = ["cli", "main"]
