"""The collector process: MQTT in, verified rows out, acknowledgements only after the commit.

Threads: paho's network thread only queues each message (with the connection it came on); one
writer thread takes whatever has queued (up to ``batch_max`` messages), checks them together
(:meth:`~collector.ingest.Ingest.check_messages`: one signature per chain segment of a device),
stores the batch in one transaction and, once it is committed, sends each message's PUBACK (paho
``manual_ack``) and publishes each touched device's ``ack``: ``{"seq": N, "digest": D}``, the
head of a chain (store epoch) the collector holds without a gap, every event with its evidence
(:mod:`roadcam.protocol.acks`, :mod:`roadcam.collector.storage`), up to which the device may release its
outbox. A crash anywhere before the commit leaves the messages unacknowledged in this
collector's persistent session (``clean_start`` False, a session expiry), so the broker delivers
them again and the id key makes that a no-op.

A PUBACK is sent only on the connection the message arrived on: after a reconnect the broker
resends whatever was not acknowledged, and packet ids of the old connection mean nothing.

Refused messages (and refused lines of a batch message) are acknowledged with their batch
(redelivering them cannot help) and counted exactly by reason in :meth:`Collector.stats`; they
are logged at a bounded rate (:class:`RateLimitedLog`: a line per reason per minute at most,
naming how many it left out), so a flood of garbage is a few lines, not one per message.

An unexpected error (anything but a refusal, or a :class:`~roadcam.common.errors.StoreError`, which
is retried while the database is away; but a :class:`~roadcam.collector.storage.DataRefused` is
unexpected, as the same data would fail again) in the writer thread or in a paho callback goes to one
place, :meth:`Collector._fatal`, which logs it and calls ``on_fatal``: by default
:func:`exit_process` ends the process with :data:`FATAL_EXIT_STATUS`, so systemd restarts it,
where a dead thread in a live process would store nothing more, for good. The writer first
records a failure for each message of the failing batch; redelivered, each is handled alone,
and one that fails again is quarantined (:mod:`roadcam.collector.quarantine`) so it costs one restart,
never an endless loop of them.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from roadcam.common.errors import StoreError
from roadcam.protocol.events import Event
from roadcam.protocol.topics import COLLECTOR_GROUP, ROOT, DeviceTopics

from .config import BrokerSettings
from .ingest import Ingest, VerifiedEvent
from .quarantine import QUARANTINE_AFTER_FAILURES, message_digest
from .storage import CollectorStorage, DataRefused

log = logging.getLogger("roadcam.collector")

#: Shared by the collectors of one group: each message goes to one of them.
SHARED_TOPICS = tuple(f"$share/{COLLECTOR_GROUP}/{ROOT}/+/+/{kind}/#" for kind in ("events", "evidence"))
#: Retained per-device state: every collector subscribes on its own, because a broker does not
#: send retained messages to a shared subscription (MQTT 5, 4.8.2).
DEVICE_STATE_TOPICS = tuple(f"{ROOT}/+/+/{kind}" for kind in ("status", "health"))
_IDLE_POLL_S = 0.2
_STORE_RETRY_S = 2.0
#: Exit status of a collector ended by an unexpected error (EX_SOFTWARE); systemd restarts it.
FATAL_EXIT_STATUS = 70
#: A refusal reason is logged at most once per this many seconds; the others are counted.
REFUSAL_LOG_INTERVAL_S = 60.0
#: Longest error text kept with a failed or quarantined message.
_ERROR_TEXT_MAX = 500
_T = TypeVar("_T")


def exit_process(error: BaseException) -> None:
    """The default ``on_fatal``: end the whole process now with :data:`FATAL_EXIT_STATUS`.
    ``os._exit`` because it may run on the writer or the network thread, where ``sys.exit``
    would end only that thread. Nothing is lost: stored batches are committed, and the rest is
    unacknowledged, so the broker delivers it again to the restarted collector."""
    logging.shutdown()
    os._exit(FATAL_EXIT_STATUS)


class RateLimitedLog:
    """Warnings at a bounded rate: at most one line per key every ``interval_s``, naming how
    many lines of that key it left out since the last one. For one thread (the writer)."""

    def __init__(self, logger: logging.Logger, interval_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self._logger = logger
        self._interval_s = interval_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._left_out: Counter[str] = Counter()

    def warning(self, key: str, message: str, *args: object) -> None:
        """Log ``message % args`` unless ``key`` was logged less than ``interval_s`` ago."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval_s:
            self._left_out[key] += 1
            return
        self._last[key] = now
        left_out = self._left_out.pop(key, 0)
        if left_out:
            message += " (and %d more like it in the last %.0f s)"
            args += (left_out, now - last)
        self._logger.warning(message, *args)


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
                 *, batch_max: int = 500,
                 on_fatal: Callable[[BaseException], None] = exit_process,
                 followers: Sequence[Callable[[list[Event]], object]] = ()):
        """``on_fatal`` is called once, from the failing thread, after an unexpected error has
        been logged (and the failing batch recorded); the default ends the process.
        ``followers`` are called on the writer thread with the events of each committed batch
        (after its acks), and with none about once a second while idle, so that work derived
        from stored events (section matching) goes on; a StoreError there is retried."""
        self.broker = broker
        self._followers = tuple(followers)
        self._followed_ns = 0
        self.storage = storage
        self.ingest = ingest
        self.batch_max = batch_max
        self._on_fatal = on_fatal
        self._fatal_lock = threading.Lock()
        self._failed = False
        self._refusal_log = RateLimitedLog(log, REFUSAL_LOG_INTERVAL_S)
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
        """Counts so far: ``stored``, ``duplicates``, ``rejected``, ``rejected.<reason>``,
        ``quarantined``."""
        with self._counts_lock:
            return dict(self._counts)

    # -- MQTT callbacks (network thread) -----------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = broker_client(self.broker, self.broker.client_id, manual_ack=True)
        client.reconnect_delay_set(min_delay=1, max_delay=self.broker.reconnect_max_s)
        client.on_connect = self._guarded(self._on_connect)
        client.on_disconnect = self._guarded(self._on_disconnect)
        client.on_message = self._guarded(self._on_message)
        client.on_subscribe = self._guarded(self._on_subscribe)
        return client

    def _guarded(self, callback: Callable[..., None]) -> Callable[..., None]:
        """``callback`` for paho: an exception escaping it would end paho's network thread and
        leave a live process that never reads again; instead it goes to :meth:`_fatal`."""
        @functools.wraps(callback)
        def guarded(*args: object) -> None:
            try:
                callback(*args)
            except Exception as error:
                self._fatal(f"the MQTT callback {callback.__name__}", error)
        return guarded

    def _fatal(self, where: str, error: BaseException) -> None:
        """The one way out on an unexpected error: log it with its traceback, then call
        ``on_fatal`` (once, however many threads fail)."""
        with self._fatal_lock:
            if self._failed:
                return
            self._failed = True
        log.critical("unexpected error in %s, ending the collector: %s", where,
                     _describe(error), exc_info=error)
        self._on_fatal(error)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("the broker %s:%s refused the collector: %s", self.broker.host,
                      self.broker.port, reason_code)
            return
        self._connection += 1
        options = SubscribeOptions(qos=1)
        client.subscribe([(topic, options) for topic in SHARED_TOPICS + DEVICE_STATE_TOPICS])
        self._publish_retained(client)

    def _publish_retained(self, client: mqtt.Client) -> None:
        """Publish again, retained, each retained message kept in storage (the hotlist,
        :mod:`roadcam.collector.dispatch`) exactly as it was first published, on every connection: a
        broker that lost it (killed before its save, or rebuilt) has it back, and a device that
        holds that version already ignores it. A database that cannot be read skips it with an
        error; the next connection tries again."""
        try:
            messages = self.storage.retained_messages()
        except StoreError as error:
            log.error("cannot read the retained messages to publish them again: %s", error)
            return
        for message in messages:
            client.publish(message.topic, message.payload.encode(), qos=1, retain=True)
            log.info("published %s version %d again, retained", message.topic, message.version)

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
        """Handle batches until stopped; an unexpected error records a failure for each
        message of its batch and ends the collector (:meth:`_fatal`)."""
        while True:
            batch = self._next_batch()
            if batch:
                try:
                    self._handle(batch)
                except Exception as error:
                    self._record_failures(batch, error)
                    self._fatal("the writer thread", error)
                    return
            elif self._stopping.is_set():
                return
            elif time.monotonic_ns() - self._followed_ns >= 1_000_000_000:
                try:
                    self._follow([])
                except Exception as error:
                    self._fatal("the writer thread", error)
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

    def _handle(self, batch: list[_Received]) -> None:
        """Store a batch; messages with a failure on record are handled one at a time."""
        digests = [message_digest(received.topic, received.payload) for received in batch]
        failures = self._until_done("read message failures", lambda: self.storage.message_failures(digests))
        if failures is None:
            return
        fresh = [received for received, digest in zip(batch, digests) if digest not in failures]
        if fresh:
            self._store(fresh)
        for received, digest in zip(batch, digests):
            if digest in failures:
                self._handle_alone(received, digest, failures[digest])

    def _handle_alone(self, received: _Received, digest: str, failures: int) -> None:
        """A message that failed before, in a batch of its own: stored (its failures then
        forgotten) or, failing again, quarantined. One already failed
        :data:`~roadcam.collector.quarantine.QUARANTINE_AFTER_FAILURES` times is delivered again only
        if its acknowledgement was lost: it is quarantined without another try."""
        if failures >= QUARANTINE_AFTER_FAILURES:
            self._quarantine(received, f"delivered again after {failures} failures")
            return
        try:
            committed = self._store([received])
        except Exception as error:
            self._quarantine(received, _describe(error))
            return
        if committed:
            self._until_done("clear a message's failures", lambda: self.storage.clear_failures([digest]))

    def _quarantine(self, received: _Received, reason: str) -> None:
        """Set a message aside in storage, then acknowledge it so it is never delivered again."""
        failures = self._until_done("quarantine a message", lambda: self.storage.quarantine(
            received.topic, received.payload, reason, time.time_ns()))
        if failures is None:
            return
        self._acknowledge(received)
        log.error("quarantined a message on %s after %d failures: %s (roadcam-collector "
                  "quarantine list shows it)", received.topic[:200], failures, reason)
        with self._counts_lock:
            self._counts["quarantined"] += 1

    def _record_failures(self, batch: list[_Received], error: BaseException) -> None:
        """Count one failure for each message of a batch that raised ``error``; best effort, as
        the collector ends next whatever happens here."""
        try:
            self.storage.record_failures([(received.topic, received.payload) for received in batch],
                                         _describe(error), time.time_ns())
        except Exception as record_error:  # the original error is what matters: do not mask it
            log.error("cannot record the failure of %d message(s): %s", len(batch), record_error)

    def _store(self, batch: list[_Received]) -> bool:
        """Check, store and acknowledge a batch; False when stopping before its commit."""
        checked = self.ingest.check_messages([(received.topic, received.payload) for received in batch])
        rejected: Counter[str] = Counter()
        for received, message in zip(batch, checked):
            for refusal in message.refusals:
                self._refusal_log.warning(refusal.reason, "refused %s: %s", received.topic[:200], refusal)
                rejected[f"rejected.{refusal.reason}"] += 1
        verified = [item for message in checked for item in message.items]
        outcome = self._until_done(f"store {len(verified)} message(s)",
                                   lambda: self.storage.store(verified, time.time_ns()))
        if outcome is None:
            return False
        for received in batch:
            self._acknowledge(received)
        for (site, device), heads in outcome.acks.items():
            for head in heads:
                self.client.publish(DeviceTopics(site, device).ack, head.encode(), qos=1)
        self._follow([item.event for item in verified if isinstance(item, VerifiedEvent)])
        with self._counts_lock:
            self._counts.update(rejected)
            self._counts["rejected"] += sum(rejected.values())
            self._counts["stored"] += outcome.stored
            self._counts["duplicates"] += outcome.duplicates
        return True

    def _until_done(self, doing: str, action: Callable[[], _T]) -> _T | None:
        """``action()``, retried while the database fails (StoreError, but not DataRefused:
        the data would fail again); None when stopping first (the messages stay
        unacknowledged, so the broker delivers them again)."""
        while True:
            try:
                return action()
            except DataRefused:
                raise
            except StoreError as error:
                log.error("cannot %s, retrying in %.0f s: %s", doing, _STORE_RETRY_S, error)
                if self._stopping.wait(_STORE_RETRY_S):
                    return None

    def _follow(self, events: list[Event]) -> None:
        """Hand committed events to every follower (StoreError retried, like storing)."""
        self._followed_ns = time.monotonic_ns()
        for follower in self._followers:
            self._until_done("follow stored events", lambda follower=follower: follower(events))

    def _acknowledge(self, received: _Received) -> None:
        if received.connection == self._connection:
            self.client.ack(received.mid, received.qos)


def _describe(error: BaseException) -> str:
    """An error as kept with a failed message: its type and text, bounded."""
    return f"{type(error).__name__}: {error}"[:_ERROR_TEXT_MAX]
