"""``python -m signalfire`` is the ``signalfire`` command."""

from __future__ import annotations

from signalfire.cli.main import run

run()
