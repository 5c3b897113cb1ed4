"""Reading Zeek TSV files back, for the simulator tests (a uniquely named helper module)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ZeekLog:
    """A parsed Zeek TSV file: its header lines by key, its field names and its data rows."""

    header: dict[str, str]
    fields: list[str]
    types: list[str]
    rows: list[list[str]]
    lines: list[str]

    def column(self, name: str) -> list[str]:
        index = self.fields.index(name)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.fields, row, strict=True)) for row in self.rows]


def read_zeek(path: Path) -> ZeekLog:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    lines = data.decode("ascii").split("\n")
    assert lines[-1] == "", f"{path}: does not end with a newline"
    lines = lines[:-1]
    header: dict[str, str] = {}
    rows: list[list[str]] = []
    for line in lines:
        if line.startswith("#"):
            key, _, value = line.partition("\t") if "\t" in line else line.partition(" ")
            header[key] = value
        else:
            rows.append(line.split("\t"))
    return ZeekLog(
        header=header,
        fields=header["#fields"].split("\t"),
        types=header["#types"].split("\t"),
        rows=rows,
        lines=lines,
    )
