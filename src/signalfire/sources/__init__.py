"""Readers of telemetry formats. Each turns bytes into Arrow batches of normalized rows plus the
lines it rejected; none writes to the store (the runner does)."""
