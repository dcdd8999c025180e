"""Prometheus metrics of the ingest pipeline (served at /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

RECEIVED = Counter("yz_telemetry_messages_received_total", "MQTT messages received")
STORED = Counter("yz_telemetry_messages_stored_total", "Messages stored as data", ["channel"])
DUPLICATES = Counter(
    "yz_telemetry_messages_duplicate_total", "Messages whose (device, seq) was already stored"
)
DEAD_LETTERS = Counter(
    "yz_telemetry_dead_letters_total", "Messages kept as dead letters", ["reason"]
)
IGNORED = Counter("yz_telemetry_messages_ignored_total", "Downlink messages seen and skipped")
BATCH_SECONDS = Histogram(
    "yz_telemetry_batch_seconds",
    "From taking a batch off the queue to acknowledging it",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SIZE = Histogram(
    "yz_telemetry_batch_messages",
    "Messages per batch",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)
QUEUE_DEPTH = Gauge("yz_telemetry_queue_depth", "Messages waiting for the writer")
MQTT_CONNECTED = Gauge(
    "yz_telemetry_mqtt_connected", "1 while connected to the broker and subscribed"
)
MQTT_RECONNECTS = Counter(
    "yz_telemetry_mqtt_reconnects_total", "Broker connections made again after one was lost"
)
UNEXPECTED_ERRORS = Counter(
    "yz_telemetry_unexpected_errors_total", "Batches that raised an unexpected error"
)
WRITE_FAILURES = Counter(
    "yz_telemetry_write_failures_total", "Batches that failed to commit (retried)", ["kind"]
)
CHECKIN_ANSWERS = Counter(
    "yz_telemetry_checkin_answers_total", "Answers to kiosk scans", ["outcome"]
)
