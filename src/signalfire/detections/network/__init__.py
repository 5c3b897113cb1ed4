"""Detections over network telemetry (conn, dns, http, tls, ssh)."""
