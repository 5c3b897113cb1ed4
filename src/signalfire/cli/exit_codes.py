"""Documented exit codes of the ``signalfire`` command (also listed in the README)."""

from __future__ import annotations

from signalfire.errors import (
    ConfigError,
    SignalfireError,
    SourceError,
    StoreError,
)

OK = 0
#: An unexpected internal error (a bug): rerun with --debug and report the traceback.
INTERNAL = 1
#: Wrong usage: unknown option, missing argument (the convention of click/typer).
USAGE = 2
#: A setting or option has an invalid value.
CONFIG = 3
#: An input path is missing or cannot be read.
SOURCE = 4
#: The store cannot be opened, migrated or written (including "written by a newer version").
STORE = 5
#: Any other Signalfire error.
OTHER = 6


def for_error(exc: BaseException) -> int:
    """Map an exception to the exit code the CLI returns for it."""
    if isinstance(exc, ConfigError):
        return CONFIG
    if isinstance(exc, SourceError):
        return SOURCE
    if isinstance(exc, StoreError):
        return STORE
    if isinstance(exc, SignalfireError):
        return OTHER
    return INTERNAL
