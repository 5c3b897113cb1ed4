"""Detections: pure functions over Ibis tables, registered with their metadata.

Every module in the ``network``, ``hosts``, ``intel`` and ``ics`` packages is imported here, so
adding a detection touches its module and its golden test folder under
``tests/detections/<id>/``; the catalogue is generated from the registry.
"""

from __future__ import annotations

import importlib
import pkgutil

from signalfire.detections.registry import ALL_DETECTIONS, DetectionSpec, detection

_PACKAGES = ("network", "ics", "intel")


def _import_all() -> None:
    for package in _PACKAGES:
        module = importlib.import_module(f"{__name__}.{package}")
        for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda i: i.name):
            importlib.import_module(f"{module.__name__}.{info.name}")


_import_all()

__all__ = ["ALL_DETECTIONS", "DetectionSpec", "detection"]
