"""Signalfire: cyber situational awareness for critical information infrastructure."""

from __future__ import annotations

__version__ = "0.1.0"
