"""Detections over the intelligence: telemetry matched against the indicator store."""
