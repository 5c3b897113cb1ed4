"""Detections over industrial control protocols (Modbus, DNP3)."""
