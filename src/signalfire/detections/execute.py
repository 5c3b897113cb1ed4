"""Build a detection's alert rows on any Ibis backend (DuckDB or Spark).

Backend-agnostic: the caller gives Ibis tables; nothing here touches the store.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from signalfire.detections.network_zones import with_zones
from signalfire.detections.registry import ALERT_COLUMNS, OPTIONAL_ALERT_COLUMNS, DetectionSpec
from signalfire.errors import DetectionError

Networks = Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]


def build(
    spec: DetectionSpec,
    tables: Mapping[str, ir.Table],
    networks: Networks,
    params: Any = None,
) -> ir.Table:
    """The detection's alert rows as an Ibis expression: ``ALERT_COLUMNS``, then those of
    ``OPTIONAL_ALERT_COLUMNS`` the detection returns.

    Raises:
        DetectionError: the detection does not return the alert columns.
    """
    inputs = [with_zones(tables[name], networks) for name in spec.inputs]
    out = spec.function(*inputs, params=params if params is not None else spec.params())
    if "severity" not in out.columns:
        out = out.mutate(severity=ibis.literal(spec.severity))
    missing = [c for c in ALERT_COLUMNS if c not in out.columns]
    if missing:
        raise DetectionError(f"{spec.id} returns no column(s) {missing}: a detection bug")
    optional = {k: v for k, v in OPTIONAL_ALERT_COLUMNS.items() if k in out.columns}
    return out.select(
        *[
            out[name] if kind == "struct" else out[name].cast(kind).name(name)
            for name, kind in {**ALERT_COLUMNS, **optional}.items()
        ]
    )
