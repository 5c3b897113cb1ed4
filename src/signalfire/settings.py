"""One declared table of settings: name, type, default, environment variable and help.

Settings are read from the environment (``SIGNALFIRE_<NAME>``) and may be overridden by CLI
options. Nothing else in the code reads the environment for configuration.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signalfire.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    """A declared setting."""

    name: str
    type: Callable[[str], Any]
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "SIGNALFIRE_" + self.name.upper()


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _path_list(text: str) -> tuple[Path, ...]:
    # Comma or the OS path separator, so both "a.json,b.json" and a PATH-like value work.
    parts = text.replace(os.pathsep, ",").split(",")
    return tuple(Path(p.strip()).expanduser() for p in parts if p.strip())


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("must be zero or more")
    return value


def _percent(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 100:
        raise ValueError("must be an integer from 0 to 100")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be more than 0")
    return value


def _memory_size(text: str) -> str:
    # DuckDB's own syntax ("4GB", "512MiB"); checked here so that a typo is a configuration
    # error naming the variable, not a store error on the first query.
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", text, re.I):
        raise ValueError("must be a size such as 4GB or 512MiB")
    return text.strip()


def _lifetimes(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, days = item.strip().partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{item.strip()!r} is not type=days")
        out[name.strip()] = _positive_float(days)
    return out


SETTINGS: tuple[Setting, ...] = (
    Setting("db", Path, Path("signalfire.duckdb"), "Path of the DuckDB store file."),
    Setting(
        "internal_networks",
        str,
        "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7",
        "Comma-separated CIDRs of the networks that are internal (yours).",
    ),
    Setting(
        "memory_limit",
        _memory_size,
        "",
        "Memory the store's engine (DuckDB) may use before it spills to disk, e.g. 4GB; empty: "
        "half of the machine's memory (DuckDB's own default is 80 %). Bounds peak memory on "
        "large stores.",
    ),
    Setting(
        "ingest_chunk_bytes",
        _positive_int,
        64 << 20,
        "Bytes of log text parsed per batch; bounds memory during ingest.",
    ),
    Setting(
        "ingest_live_grace_seconds",
        _non_negative_float,
        300.0,
        "A last line without a newline in a file modified less than this many seconds ago is "
        "held back as still being written; in an older file it is rejected as truncated.",
    ),
    Setting(
        "attack_bundles",
        _path_list,
        (),
        "ATT&CK STIX bundles (e.g. a newer enterprise-attack.json and ics-attack.json) to use "
        "instead of the copy shipped with Signalfire; comma- or path-separator-separated.",
    ),
    Setting(
        "intel_default_confidence",
        _percent,
        80,
        "Base confidence (0-100) of indicators whose source states none (MISP's default base "
        "score).",
    ),
    Setting(
        "intel_decay_lifetimes",
        _lifetimes,
        {},
        "Indicator lifetime in days per type, e.g. 'ipv4=14,domain=60,default=120'; the types "
        "not named keep their defaults (signalfire.intel.decay.DEFAULT_LIFETIMES).",
    ),
    Setting(
        "intel_decay_speed",
        _positive_float,
        2.0,
        "Decay speed (delta) of MISP's polynomial model: 1 is linear, more drops faster at first.",
    ),
    Setting(
        "intel_decay_threshold",
        _non_negative_float,
        30.0,
        "Decayed confidence below which an indicator is expired and stops alerting.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """Return the value of a setting: its environment variable if set, else its default.

    Raises:
        ConfigError: the environment variable holds a value of the wrong type.
    """
    setting = _BY_NAME[name]
    env = os.environ if environ is None else environ
    raw = env.get(setting.env)
    if raw is None or raw == "":
        return setting.default
    try:
        return setting.type(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{setting.env}={raw!r} is not valid ({exc}); {setting.help} "
            f"Unset it to use the default {setting.default!r}."
        ) from exc
