"""Reference kiosk client for the Yizhan MQTT device protocol (docs/device-protocol.md)."""
