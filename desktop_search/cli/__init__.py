"""The command line: ``desktop-search COMMAND``; without a command it starts the window (see app.py)."""

from .app import main
from .common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, CliError

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "CliError", "main"]
