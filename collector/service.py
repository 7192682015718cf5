"""The collector process: MQTT in, verified rows out, acknowledgements only after the commit.

Threads: paho's network thread only queues each message (with the connection it came on); one
writer thread takes whatever has queued (up to ``batch_max`` messages), checks them together
(:meth:`~collector.ingest.Ingest.check_messages`: one signature per chain segment of a device),
stores the batch in one transaction and, once it is committed, sends each message's PUBACK (paho
``manual_ack``) and publishes each touched device's ``ack``: ``{"seq": N, "digest": D}``, the
head of a chain (store epoch) the collector holds without a gap, every event with its evidence
(:mod:`appliance.acks`, :mod:`collector.storage`), up to which the device may release its
outbox. A crash anywhere before the commit leaves the messages unacknowledged in this
collector's persistent session (``clean_start`` False, a session expiry), so the broker delivers
them again and the id key makes that a no-op.

A PUBACK is sent only on the connection the message arrived on: after a reconnect the broker
resends whatever was not acknowledged, and packet ids of the old connection mean nothing.

Refused messages (and refused lines of a batch message) are acknowledged with their batch
(redelivering them cannot help), logged and counted by reason in :meth:`Collector.stats`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from appliance.errors import StoreError
from appliance.topics import COLLECTOR_GROUP, ROOT, DeviceTopics

from .config import BrokerSettings
from .ingest import Ingest
from .storage import CollectorStorage, StoredBatch

log = logging.getLogger("roadcam.collector")

#: Shared by the collectors of one group: each message goes to one of them.
SHARED_TOPICS = tuple(f"$share/{COLLECTOR_GROUP}/{ROOT}/+/+/{kind}/#" for kind in ("events", "evidence"))
#: Retained per-device state: every collector subscribes on its own, because a broker does not
#: send retained messages to a shared subscription (MQTT 5, 4.8.2).
DEVICE_STATE_TOPICS = tuple(f"{ROOT}/+/+/{kind}" for kind in ("status", "health"))
_IDLE_POLL_S = 0.2
_STORE_RETRY_S = 2.0


def broker_client(broker: BrokerSettings, client_id: str, **options) -> mqtt.Client:
    """A paho MQTT 5 client (callback API 2) with the collector's TLS identity, not connected."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, **options)
    tls = broker.tls
    if tls is not None:
        client.tls_set(ca_certs=str(tls.ca_file), certfile=str(tls.cert_file), keyfile=str(tls.key_file))
    return client


@dataclass(frozen=True)
class _Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int


class Collector:
    """One collector instance; :meth:`start` connects and begins storing, :meth:`stop` ends."""

    def __init__(self, broker: BrokerSettings, storage: CollectorStorage, ingest: Ingest,
                 *, batch_max: int = 500):
        self.broker = broker
        self.storage = storage
        self.ingest = ingest
        self.batch_max = batch_max
        self._received: queue.Queue[_Received] = queue.Queue()
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._connection = 0
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._writer: threading.Thread | None = None
        self.client = self._make_client()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (asynchronously; paho reconnects, waiting 1 s doubling up to
        ``reconnect_max_s``) and start the writer."""
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.broker.session_expiry_s
        properties.ReceiveMaximum = self.broker.receive_maximum
        self.client.connect_async(self.broker.host, self.broker.port,
                                  keepalive=self.broker.keepalive_s, clean_start=False,
                                  properties=properties)
        self._writer = threading.Thread(target=self._write_loop, name="collector-writer", daemon=True)
        self._writer.start()
        self.client.loop_start()

    def wait_connected(self, timeout_s: float) -> bool:
        """Whether the collector is connected and subscribed within ``timeout_s``."""
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        """Store and acknowledge what has been received, then disconnect."""
        self._stopping.set()
        if self._writer is not None:
            self._writer.join()
        self.client.disconnect()
        self.client.loop_stop()

    def stats(self) -> dict[str, int]:
        """Counts so far: ``stored``, ``duplicates``, ``rejected``, ``rejected.<reason>``."""
        with self._counts_lock:
            return dict(self._counts)

    # -- MQTT callbacks (network thread) -----------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = broker_client(self.broker, self.broker.client_id, manual_ack=True)
        client.reconnect_delay_set(min_delay=1, max_delay=self.broker.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("the broker %s:%s refused the collector: %s", self.broker.host,
                      self.broker.port, reason_code)
            return
        self._connection += 1
        options = SubscribeOptions(qos=1)
        client.subscribe([(topic, options) for topic in SHARED_TOPICS + DEVICE_STATE_TOPICS])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            log.error("the broker refused collector subscriptions: %s (check the ACL grants "
                      "collector-* read on roadcam/v1/#)", refused)
            return
        log.info("collector %s subscribed", self.broker.client_id)
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("collector disconnected from the broker: %s; reconnecting", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        self._received.put(_Received(message.topic, message.payload, message.mid, message.qos,
                                     self._connection))

    # -- the writer thread -------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch:
                self._store(batch)
            elif self._stopping.is_set():
                return

    def _next_batch(self) -> list[_Received]:
        try:
            batch = [self._received.get(timeout=_IDLE_POLL_S)]
        except queue.Empty:
            return []
        while len(batch) < self.batch_max:
            try:
                batch.append(self._received.get_nowait())
            except queue.Empty:
                break
        return batch

    def _store(self, batch: list[_Received]) -> None:
        checked = self.ingest.check_messages([(received.topic, received.payload) for received in batch])
        rejected: Counter[str] = Counter()
        for received, message in zip(batch, checked):
            for refusal in message.refusals:
                log.warning("refused %s: %s", received.topic[:200], refusal)
                rejected[f"rejected.{refusal.reason}"] += 1
        outcome = self._store_until_committed([item for message in checked for item in message.items])
        if outcome is None:
            return
        for received in batch:
            self._acknowledge(received)
        for (site, device), heads in outcome.acks.items():
            for head in heads:
                self.client.publish(DeviceTopics(site, device).ack, head.encode(), qos=1)
        with self._counts_lock:
            self._counts.update(rejected)
            self._counts["rejected"] += sum(rejected.values())
            self._counts["stored"] += outcome.stored
            self._counts["duplicates"] += outcome.duplicates

    def _store_until_committed(self, verified: list) -> StoredBatch | None:
        """Store the batch, retrying while the database fails; None when stopping first (the
        messages stay unacknowledged, so the broker delivers them again after a restart)."""
        while True:
            try:
                return self.storage.store(verified, time.time_ns())
            except StoreError as error:
                log.error("cannot store %d message(s), retrying in %.0f s: %s", len(verified),
                          _STORE_RETRY_S, error)
                if self._stopping.wait(_STORE_RETRY_S):
                    return None

    def _acknowledge(self, received: _Received) -> None:
        if received.connection == self._connection:
            self.client.ack(received.mid, received.qos)
