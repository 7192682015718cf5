"""What the shipped broker's "save on every change" costs while the collectors are away.

    .venv/bin/python -m roadcam.tools.bench_broker_persistence [--messages 1000] [--bytes 20000]

The shipped ``collector/mosquitto/mosquitto.conf`` sets ``autosave_on_changes true`` with
``autosave_interval 1`` so that a retained hotlist survives a broker killed right after it was
published (issue 22, item 7). Mosquitto counts every change, queued QoS 1 messages included, and
each save rewrites its whole database; the worst case is an outage of the collectors, when
every device's evidence queues up in their persistent session. This benchmark makes that case:
a persistent subscriber session (the collectors) goes away, one publisher sends ``--messages``
QoS 1 messages of ``--bytes`` each and waits for every PUBACK. Rows printed, side by side in the
same run:

- ``save on every change``: the shipped setting;
- ``save every 1800 s``: Mosquitto's default, the reference (nothing is saved during the run);

with messages per second, the time to queue them all, and the size of ``mosquitto.db`` at the end.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from roadcam.collector.fake_device import mqtt5_client
from roadcam.collector.local_broker import Broker

SETTINGS = {
    "save on every change": "autosave_on_changes true\nautosave_interval 1\n",
    "save every 100 changes": "autosave_on_changes true\nautosave_interval 100\n",
    "save every 60 s": "autosave_interval 60\n",
    "save every 1800 s (reference)": "autosave_interval 1800\n",
}


def queue_while_collectors_are_away(folder: Path, settings: str, messages: int, size: int) -> tuple[float, int]:
    """Seconds to have ``messages`` QoS 1 messages of ``size`` bytes acknowledged by a broker with
    ``settings`` while the only subscriber's persistent session is away; and the database size."""
    broker = Broker(folder, persistence=True)
    broker.config_file.write_text(broker.config_file.read_text() + settings)
    broker.start()
    try:
        away = mqtt5_client("collectors-away")
        subscribed = threading.Event()
        away.on_subscribe = lambda *_: subscribed.set()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        away.connect(broker.host, broker.port, clean_start=False, properties=properties)
        away.loop_start()
        away.subscribe("bench/#", qos=1)
        assert subscribed.wait(10), "the subscriber could not subscribe"
        away.disconnect()
        away.loop_stop()

        publisher = mqtt5_client("device")
        publisher.max_inflight_messages_set(100)
        publisher.connect(broker.host, broker.port)
        publisher.loop_start()
        payload = bytes(size)
        started = time.perf_counter()
        infos = [publisher.publish(f"bench/{index}", payload, qos=1) for index in range(messages)]
        for info in infos:
            info.wait_for_publish(120)
        elapsed = time.perf_counter() - started
        publisher.disconnect()
        publisher.loop_stop()
    finally:
        broker.stop()  # SIGTERM: Mosquitto saves once more at exit, so the sizes compare
    database = folder / "mosquitto.db"
    return elapsed, database.stat().st_size if database.exists() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000, help="QoS 1 messages to queue")
    parser.add_argument("--bytes", type=int, default=20_000, help="size of each (an evidence crop is 5-50 kB)")
    args = parser.parse_args(argv)
    print(f"{args.messages} QoS 1 messages of {args.bytes} bytes queued for an absent persistent session")
    print(f"{'broker setting':32} {'msg/s':>9} {'seconds':>9} {'mosquitto.db':>14}")
    with tempfile.TemporaryDirectory() as scratch:
        for name, settings in SETTINGS.items():
            elapsed, size = queue_while_collectors_are_away(Path(scratch) / name.replace(' ', '-'), settings,
                                                            args.messages, args.bytes)
            print(f"{name:32} {args.messages / elapsed:9.0f} {elapsed:9.2f} {size / 1e6:11.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
