"""Builders of small Zeek logs for the reader tests (the project's own fixtures)."""

from __future__ import annotations

import json
from collections.abc import Sequence

HEADER_FIELDS = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"


def zeek_tsv(
    path: str, fields: Sequence[str], types: Sequence[str], rows: Sequence[Sequence[str]]
) -> bytes:
    """A Zeek TSV log with its header, the given rows and a #close footer."""
    lines = [
        HEADER_FIELDS.rstrip("\n"),
        f"#path\t{path}",
        "#open\t2026-03-02-00-00-00",
        "#fields\t" + "\t".join(fields),
        "#types\t" + "\t".join(types),
        *("\t".join(r) for r in rows),
        "#close\t2026-03-02-01-00-00",
    ]
    return ("\n".join(lines) + "\n").encode()


def zeek_json(records: Sequence[dict[str, object]]) -> bytes:
    return ("\n".join(json.dumps(r) for r in records) + "\n").encode()
