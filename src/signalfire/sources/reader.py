"""Open input files (plain, gzip or bz2, recognised by their magic bytes) and read them in chunks
of whole lines, keeping byte offsets and line numbers so every row and reject can be traced back.
"""

from __future__ import annotations

import bz2
import gzip
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from signalfire.errors import SourceError

_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2"}


def compression_of(path: Path) -> str:
    """'gzip', 'bz2' or 'none', from the file's first bytes (never its name)."""
    with path.open("rb") as fh:
        head = fh.read(3)
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    return "none"


def open_decompressed(path: Path, compression: str) -> tuple[BinaryIO, BinaryIO]:
    """The file's decompressed content, and the raw file under it (whose position tells how
    far a compressed file has been read). Close both."""
    raw = path.open("rb")
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.BZ2File(raw, "rb"), raw  # type: ignore[return-value]
    return raw, raw


def walk(paths: Iterable[Path]) -> Iterator[Path]:
    """Every regular file named or found (recursively, in sorted order) under the paths.

    Raises:
        SourceError: a path does not exist.
    """
    for path in paths:
        if not path.exists():
            raise SourceError(f"{path}: no such file or directory; check the path and retry")
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    candidate = Path(root) / name
                    if candidate.is_file():
                        yield candidate
        elif path.is_file():
            yield path
        else:
            raise SourceError(f"{path}: not a regular file or directory")


@dataclass(frozen=True)
class Chunk:
    """Consecutive whole lines of a file.

    ``data`` ends with a newline unless ``partial_tail`` is set: the file's last line, which has
    no newline and is passed on because the file is finished (compressed, or not modified for a
    while): it is most likely truncated.
    """

    data: bytes
    first_line: int
    start_offset: int
    partial_tail: bool = False
    line_count: int = field(init=False)

    def __post_init__(self) -> None:
        # Counted once: several stages need it and counting is a pass over the whole chunk.
        count = self.data.count(b"\n") + (1 if self.partial_tail else 0)
        object.__setattr__(self, "line_count", count)


@dataclass
class ChunkReader:
    """Reads a stream from ``start_offset`` (already positioned there) in chunks of whole lines.

    After iteration, ``end_offset``/``end_line`` say how far the content was consumed and
    ``held_back`` how many bytes of an unfinished last line were left for the next run.
    """

    stream: BinaryIO
    chunk_bytes: int
    start_offset: int
    start_line: int
    keep_partial_tail: bool
    hasher: object | None = None
    end_offset: int = 0
    end_line: int = 0
    held_back: int = 0

    def __iter__(self) -> Iterator[Chunk]:
        offset, line = self.start_offset, self.start_line
        carry = b""
        update = getattr(self.hasher, "update", None)
        while True:
            block = self.stream.read(self.chunk_bytes)
            if not block:
                break
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                carry += block
                continue
            # One copy of the block at most: the carried partial line is small.
            whole = carry + block[:cut] if carry else block[:cut] if cut < len(block) else block
            carry = block[cut:]
            if update is not None:
                update(whole)
            chunk = Chunk(whole, line + 1, offset)
            offset += len(whole)
            line += chunk.line_count
            yield chunk
        if carry:
            if self.keep_partial_tail:
                if update is not None:
                    update(carry)
                chunk = Chunk(carry, line + 1, offset, partial_tail=True)
                offset += len(carry)
                line += 1
                yield chunk
            else:
                self.held_back = len(carry)
        self.end_offset, self.end_line = offset, line
