"""Recognise a file's format from its content (never its name) and build its reader."""

from __future__ import annotations

from typing import Protocol

import duckdb
import pyarrow as pa

from signalfire.sources import suricata_eve, zeek_json, zeek_tsv
from signalfire.sources.batch import ParsedBatch, Provenance, rejected_lines
from signalfire.sources.lines import line_table
from signalfire.sources.reader import Chunk

UNKNOWN = "unknown"
BINARY = "binary"
EMPTY = "empty"

NOT_A_LOG = (
    "not a Zeek (TSV or JSON) or Suricata EVE line: the file's format was not recognised from "
    "its first line; ingest only Zeek or Suricata logs"
)
BINARY_CONTENT = (
    "binary content, not a text log (a PCAP must first be turned into logs by Zeek or Suricata)"
)


class Reader(Protocol):
    """What every source reader offers the runner."""

    format: str

    def prime(self, head: bytes) -> None: ...

    def parse(self, chunk: Chunk) -> ParsedBatch: ...


def detect(head: bytes) -> str:
    """The format of content that starts with ``head``."""
    if b"\x00" in head[:8192]:
        return BINARY
    text = head.lstrip(b"\r\n\t ")
    if not text:
        return EMPTY
    if zeek_tsv.looks_like(text):
        return zeek_tsv.FORMAT
    if text.startswith(b"{"):
        first = zeek_json.sniff(text.split(b"\n", 1)[0])
        if first is None and b"\n" in text[:4096]:
            # The first line is not a whole JSON object: a pretty-printed JSON document
            # (ground truth, configuration), not a log of one record per line.
            return UNKNOWN
        if first is not None and suricata_eve.looks_like(first):
            return suricata_eve.FORMAT
        return zeek_json.FORMAT
    if zeek_tsv.looks_like_headerless(text):
        return zeek_tsv.FORMAT
    return UNKNOWN


class UnrecognisedReader:
    """Keeps every line of a file whose format is not known, as a reject with the reason."""

    def __init__(self, fmt: str) -> None:
        self.format = fmt
        self._reported = False

    def prime(self, head: bytes) -> None:
        """Nothing to remember."""

    def parse(self, chunk: Chunk) -> ParsedBatch:
        batch = ParsedBatch()
        if self.format == BINARY:
            # One reject for the whole file: binary "lines" are meaningless as text.
            if not self._reported:
                self._reported = True
                batch.add_rejects(
                    pa.table(
                        {
                            "log_line": [chunk.first_line],
                            "log_offset": [chunk.start_offset],
                            "reason": [BINARY_CONTENT],
                            "raw": [chunk.data[:64].hex()],
                        }
                    )
                )
            return batch
        batch.add_rejects(rejected_lines(line_table(chunk), NOT_A_LOG))
        return batch


def reader_for(fmt: str, con: duckdb.DuckDBPyConnection, provenance: Provenance) -> Reader:
    """The reader of a detected format."""
    if fmt == zeek_tsv.FORMAT:
        return zeek_tsv.ZeekTsvReader(con, provenance)
    if fmt == zeek_json.FORMAT:
        return zeek_json.ZeekJsonReader(con, provenance)
    if fmt == suricata_eve.FORMAT:
        return suricata_eve.SuricataEveReader(con, provenance)
    return UnrecognisedReader(fmt)
