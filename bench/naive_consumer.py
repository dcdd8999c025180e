"""The naive consumer the benchmark compares with: paho, one INSERT (and commit) per message.

Run as its own process by bench/ingest.py:
`python bench/naive_consumer.py HOST PORT TOPIC_FILTER DSN`.
"""

import json
import signal
import sys
import threading
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

TABLE = """
CREATE TABLE IF NOT EXISTS naive_readings (
    device_id text NOT NULL, seq bigint NOT NULL, ts bigint NOT NULL, metrics jsonb NOT NULL
)
"""


def main() -> None:
    """Consume until SIGTERM."""
    host, port, topic_filter, dsn = sys.argv[1:5]
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute(TABLE)
    stop = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        body = json.loads(message.payload)
        device_id = message.topic.split("/")[5]
        conn.execute(
            "INSERT INTO naive_readings (device_id, seq, ts, metrics) VALUES (%s, %s, %s, %s)",
            (device_id, body["seq"], body["ts"], json.dumps(body["metrics"])),
        )

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-naive",
        protocol=mqtt.MQTTv5,
    )
    client.on_message = on_message
    client.connect(host, int(port))
    client.subscribe(topic_filter, qos=1)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client.loop_start()
    print("subscribed", flush=True)
    stop.wait()
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
