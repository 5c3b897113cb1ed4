"""The detection registry: metadata checked at import, and the contract of an alert row.

A detection is a pure function over Ibis tables (one argument per input table, in the order of
``inputs``) plus its frozen ``Params``; it returns an Ibis table with the columns of
``ALERT_COLUMNS``. It does no I/O and reads no settings, so the same code runs on DuckDB and on
Spark; the one allowance is Ibis ``Table.cache`` of a small intermediate result whose size no
planner can estimate (the runner drops such tables after each detection). Ids, titles and
ATT&CK techniques are added by ``signalfire.runner``, which neither builds nor runs a
detection while one of the inputs it ``requires`` is empty.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from signalfire.errors import DetectionError
from signalfire.intel.attack import bundled_catalog
from signalfire.model.schema import TABLES_BY_NAME

SEVERITIES = ("info", "low", "medium", "high", "critical")

#: What every detection returns (name -> Ibis type). ``entity`` and ``window_start`` make the
#: alert's stable id; ``evidence`` is a struct of the sub-scores and facts behind the score.
ALERT_COLUMNS: dict[str, str] = {
    "entity": "string",
    "window_start": "timestamp",
    "first_seen": "timestamp",
    "last_seen": "timestamp",
    "source_ip": "string",
    "destination_ip": "string",
    "destination_port": "int32",
    "destination_domain": "string",
    "score": "float64",
    "severity": "string",
    "evidence": "struct",
}
#: Columns a detection may add when they vary per alert (the intelligence match names the
#: intrusion set behind each indicator and that set's techniques); when absent or empty, the
#: alert takes the detection's own ATT&CK ids and no intrusion set.
OPTIONAL_ALERT_COLUMNS: dict[str, str] = {
    "attack": "array<string>",
    "intrusion_set": "string",
}


def empty_alerts() -> pa.Table:
    """A detection's result with no alert (for one that is not run)."""
    types = {
        "string": pa.string(),
        "timestamp": pa.timestamp("us"),
        "int32": pa.int32(),
        "float64": pa.float64(),
        # DuckDB cannot take a struct without fields, even in an empty table.
        "struct": pa.struct([("none", pa.string())]),
    }
    return pa.schema([(name, types[kind]) for name, kind in ALERT_COLUMNS.items()]).empty_table()


_ID = re.compile(r"^[a-z]+\.[a-z_]+$")


@dataclass(frozen=True)
class DetectionSpec:
    """A registered detection."""

    id: str
    title: str
    attack: tuple[str, ...]
    inputs: tuple[str, ...]
    severity: str
    params_type: type[Any]
    function: Callable[..., ir.Table]
    doc: str
    #: Inputs without which the detection cannot raise anything: while one of them is empty
    #: the runner does not run it (the intelligence match over 100 M rows, with no indicator
    #: to match, took 76 s to find nothing).
    requires: tuple[str, ...] = ()

    def params(self, overrides: dict[str, Any] | None = None) -> Any:
        """The detection's Params with site overrides applied (names checked)."""
        if not overrides:
            return self.params_type()
        names = {f.name for f in dataclasses.fields(self.params_type)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise DetectionError(
                f"{self.id} has no parameter {', '.join(unknown)}; "
                f"it has: {', '.join(sorted(names))}"
            )
        return dataclasses.replace(self.params_type(), **overrides)


ALL_DETECTIONS: dict[str, DetectionSpec] = {}


def detection(
    *,
    id: str,
    title: str,
    attack: tuple[str, ...],
    inputs: tuple[str, ...],
    severity: str,
    requires: tuple[str, ...] = (),
) -> Callable[[Callable[..., ir.Table]], Callable[..., ir.Table]]:
    """Register a detection; its metadata is checked now, at import.

    Raises:
        DetectionError: unknown ATT&CK id or input table, bad severity, no Params, duplicate id.
    """

    def register(function: Callable[..., ir.Table]) -> Callable[..., ir.Table]:
        if not _ID.match(id):
            raise DetectionError(f"detection id {id!r} must look like 'group.name'")
        if id in ALL_DETECTIONS:
            raise DetectionError(f"detection id {id!r} is registered twice")
        # The bundled ATT&CK, not a user's: the ids are part of the shipped code and tested.
        problems = bundled_catalog().check_technique_ids(attack)
        if problems or not attack:
            raise DetectionError(
                f"{id}: {'; '.join(problems) or 'no ATT&CK technique id given'} "
                "(look techniques up with `signalfire attack search TEXT`)"
            )
        missing = [i for i in inputs if i not in TABLES_BY_NAME]
        if missing or not inputs:
            raise DetectionError(f"{id}: unknown input table(s) {missing or '(none given)'}")
        if not set(requires) <= set(inputs):
            raise DetectionError(f"{id}: requires {requires} must be among its inputs {inputs}")
        if severity not in SEVERITIES:
            raise DetectionError(f"{id}: severity {severity!r} is not one of {SEVERITIES}")
        signature = inspect.signature(function)
        params = signature.parameters.get("params")
        if params is None or not dataclasses.is_dataclass(params.default):
            raise DetectionError(f"{id}: the function needs `params: Params = Params()`")
        frozen = getattr(getattr(params.default, "__dataclass_params__", None), "frozen", False)
        if not frozen:
            raise DetectionError(f"{id}: its Params must be a frozen dataclass")
        doc = inspect.getdoc(function)
        if not doc:
            raise DetectionError(f"{id}: a detection needs a docstring (the catalogue uses it)")
        ALL_DETECTIONS[id] = DetectionSpec(
            id,
            title,
            tuple(attack),
            tuple(inputs),
            severity,
            type(params.default),
            function,
            doc,
            tuple(requires),
        )
        return function

    return register
