"""Telemetry service: MQTT ingest (ingest/), device state, usage figures (usage.py)."""
