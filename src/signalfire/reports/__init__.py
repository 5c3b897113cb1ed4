"""Reports: self-contained HTML (inline CSS and SVG plots, no external resources)."""
