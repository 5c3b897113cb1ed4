"""The one exception tree of Signalfire.

Every message says what went wrong *and what to do*; the CLI prints it as one line and maps the
branch to an exit code (see ``signalfire.cli.exit_codes``).
"""

from __future__ import annotations


class SignalfireError(Exception):
    """Root of every error Signalfire raises on purpose."""


class ConfigError(SignalfireError):
    """A setting, option or argument is invalid."""


class SourceError(SignalfireError):
    """An input cannot be read at all (missing file, unreadable, unknown compression)."""


class ParseError(SourceError):
    """Input was read but a record in it cannot be parsed.

    Attributes:
        path: the file the record came from.
        line: 1-based line number, when known.
        offset: byte offset of the record in the (decompressed) stream, when known.
    """

    def __init__(
        self, message: str, *, path: str, line: int | None = None, offset: int | None = None
    ) -> None:
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.offset = offset


class StoreError(SignalfireError):
    """The store cannot be opened, migrated or written."""


class SchemaVersionError(StoreError):
    """The store was written by a newer Signalfire than this one."""


class DetectionError(SignalfireError):
    """A detection failed or is declared wrongly."""


class IntelError(SignalfireError):
    """Threat intelligence cannot be loaded or matched."""


class ApiError(SignalfireError):
    """An API request cannot be served."""
