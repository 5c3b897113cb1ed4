"""The detection catalogue, generated from the registry: ``python -m
signalfire.detections.catalogue > docs/detections.md`` (a test keeps the file current)."""

from __future__ import annotations

import dataclasses

from signalfire.detections import ALL_DETECTIONS
from signalfire.intel.attack import bundled_catalog


def render() -> str:
    """Markdown: one section per detection with its metadata, docstring and parameters."""
    catalog = bundled_catalog()
    lines = [
        "# Detection catalogue",
        "",
        "Generated from the registry by `python -m signalfire.detections.catalogue`; do not edit.",
        "",
        "| id | title | ATT&CK | inputs | default severity |",
        "|---|---|---|---|---|",
    ]
    specs = sorted(ALL_DETECTIONS.values(), key=lambda s: s.id)
    for spec in specs:
        lines.append(
            f"| `{spec.id}` | {spec.title} | {', '.join(spec.attack)} | "
            f"{', '.join(spec.inputs)} | {spec.severity} |"
        )
    for spec in specs:
        lines += ["", f"## `{spec.id}`: {spec.title}", "", spec.doc, ""]
        if spec.requires:
            lines += [f"Not run while {', '.join(spec.requires)} is empty.", ""]
        lines.append("ATT&CK:")
        for technique_id in spec.attack:
            technique = catalog.technique(technique_id)
            assert technique is not None  # the registry checked the ids at import
            lines.append(f"- {technique.id} {technique.name} ({technique.domain})")
        lines += ["", "| parameter | default |", "|---|---|"]
        for field in dataclasses.fields(spec.params_type):
            # A default built by a factory comes from the settings: say where, not a value
            # that depends on this machine's environment.
            default = (
                f"`{field.default!r}`"
                if field.default is not dataclasses.MISSING
                else "from the settings (see above)"
            )
            lines.append(f"| `{field.name}` | {default} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
