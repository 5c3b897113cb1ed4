"""Terminal output shared by the commands: JSON for scripts, rich tables and progress for people.

Progress bars and messages go to stderr so that stdout stays clean for ``--json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

# soft_wrap: piped output keeps long lines whole instead of folding them at 80 columns.
stdout = Console(highlight=False, soft_wrap=True)
if not stdout.is_terminal:
    # Piped or captured: tables get room instead of truncated cells.
    stdout = Console(highlight=False, soft_wrap=True, width=200)
stderr = Console(stderr=True, highlight=False)


def emit_line(text: str) -> None:
    """One line on stdout, unformatted (JSON lines)."""
    sys.stdout.write(text + "\n")


def print_json(obj: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()


@contextmanager
def byte_progress(enabled: bool, label: str) -> Iterator[Any]:
    """A progress bar over bytes on stderr; yields ``update(done, total, name)``."""
    if not enabled or not stderr.is_terminal:
        yield lambda done, total, name: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[name]}", style="dim"),
        console=stderr,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None, name="")

        def update(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, name=name[-50:])

        yield update
