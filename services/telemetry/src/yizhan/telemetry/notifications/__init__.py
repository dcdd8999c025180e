"""Alarm notifications (CONTRACT §3): channels, signed webhook deliveries, the notifier."""
