"""The MQTT 5 uplink: delivers the outbox to the collector, takes signed commands back.

Delivery (DESIGN.md, "MQTT"): paho keeps messages only in memory and Mosquitto acknowledges
before it has saved anything, so a broker's PUBACK proves nothing. Events therefore leave only
from the store (:meth:`EventStore.pending`, in seq order) and a row is marked delivered only when
the collector's own ``ack`` arrives: ``{"seq": N, "digest": D}``, "stored your chain up to
event N, whose digest is D, with its evidence" (:mod:`roadcam.protocol.acks`). The device confirms up
to N only if its own event N has digest D; an ack for another chain (the device's store before
a reset, which the collector also holds) is ignored and logged at a bounded rate. Meanwhile:

- every message goes out at QoS 1; each event's evidence files go out before the event;
- a single waiting event goes alone on ``events/{type}``; when more wait (a backlog), up to
  ``batch_max_events`` go in one message on ``events`` (JSON lines,
  :mod:`roadcam.protocol.event_batches`), so per-message costs are paid once per batch;
- at most ``max_in_flight_events`` events are unacknowledged at once, and a backlog drains at
  ``drain_rate_per_s``;
- every PUBACK's reason code is read: one at or above 0x80 (e.g. 0x87, not authorised by the
  ACL) raises an ``uplink.refused`` fault, and the uplink backs off (doubling from
  ``reconnect_min_s`` to ``reconnect_max_s``) and then sends everything unacknowledged again;
- after a reconnect, or when acknowledgements stop for ``ack_timeout_s``, everything
  unacknowledged is sent again. The collector keys events by id, so a repeat is harmless. Each
  further timeout with no acknowledgement in between doubles the wait (up to
  ``ack_timeout_max_s``): a slow link or a busy collector that needs longer than the timeout to
  take a backlog with its evidence would otherwise get the whole backlog again at every timeout,
  and fall further behind.

Threads: paho's network loop (``loop_start``) runs the callbacks, which only record what
happened and nudge the sender; the sender thread reads the store, publishes and confirms. The
``roadcam_event`` observer nudges the sender too, so a new event leaves at once without polling.
Commands are checked on the network thread (:class:`~roadcam.appliance.commands.CommandGate`) and run on
the analysis thread (:meth:`Appliance.enqueue_command`); their result goes back on
``cmd/{name}/result``. Nothing here blocks the analysis thread.

Hostile input (issue 22): every inbound payload (acks, commands, the hotlist) is parsed within
size and depth limits (:mod:`roadcam.protocol.bounded_json`) before anything else. No exception ever
leaves a paho callback (paho would re-raise it and its network thread would die): each callback
is guarded, a failure is counted, logged at a bounded rate and raises ``uplink.inbound``. Should
the network thread die all the same, the sender notices within ``IDLE_WAIT_S``, raises
``uplink.network`` and starts a new network loop on a new connection.

Presence: ``status`` is ``online`` (retained) once connected; the last will, also used on a
clean stop, makes it ``offline``. ``health`` (retained: the active faults, each one's severity and
the worst, the outbox, the latest health event) is refreshed every ``health_interval_s``.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from roadcam.common.errors import CommandRefused, ConfigError, StoreError
from roadcam.protocol.acks import ChainAck
from roadcam.protocol.commands import HOTLIST_COMMAND
from roadcam.protocol.event_batches import encode_event_batches
from roadcam.protocol.events import Event, iso_utc
from roadcam.protocol.topics import HOTLIST, DeviceTopics

from .commands import CommandGate
from .events import EventDraft
from .uplink_config import UplinkConfig

log = logging.getLogger("roadcam.uplink")

#: Longest the sender sleeps when nothing nudges it (it also checks timeouts and health then).
IDLE_WAIT_S = 0.5
#: Evidence files remembered as sent on this connection (a shared file is not sent twice).
SENT_EVIDENCE_MEMORY = 4096
#: Acks kept for the sender between two of its steps (a later ack of a chain covers an earlier).
ACK_MEMORY = 64
#: Least time between two log lines about ignored acks (the others are only counted).
IGNORED_ACK_LOG_INTERVAL_S = 60.0
#: Least time between two log lines about failing paho callbacks (the others are only counted).
CALLBACK_LOG_INTERVAL_S = 10.0
#: The ``uplink.inbound`` fault clears once no paho callback has failed for this long.
INBOUND_FAULT_QUIET_S = 300.0


@dataclass
class _LinkState:
    """What the network thread tells the sender; guarded by the uplink's condition."""

    connected: bool = False
    connections: int = 0
    disconnected_since_s: float | None = None
    refusal: str | None = None


class Uplink:
    """The MQTT link of one appliance. :meth:`start` after the store is open, :meth:`stop` before
    it closes (the ``uplink`` plugin does both); :meth:`nudge` when an event was stored."""

    def __init__(self, appliance, config: UplinkConfig, gate: CommandGate):
        self._appliance = appliance
        self._config = config
        self._store = appliance.store
        self._gate = gate
        self._topics = DeviceTopics(appliance.config.device.site, appliance.config.device.id)
        self._client = self._make_client()
        self._wakeup = threading.Condition()
        self._nudged = False
        self._link = _LinkState(disconnected_since_s=time.monotonic())
        self._latest_health: dict[str, Any] | None = None
        self._stopping = threading.Event()
        self._sender = threading.Thread(target=self._send_loop, name="uplink-sender", daemon=True)
        # Sender-thread state.
        self._pubacks: collections.deque[tuple[int, ReasonCode]] = collections.deque()
        # Acks as the network thread read them: a ChainAck, or why a payload was not one.
        self._acks: collections.deque[ChainAck | str] = collections.deque(maxlen=ACK_MEMORY)
        self._ignored_acks = 0
        self._ack_log_due_s = 0.0
        self._topic_of_mid: dict[int, str] = {}
        self._publish_lock = threading.Lock()
        first_pending = self._store.pending(limit=1)
        self._confirmed_seq = first_pending[0].seq - 1 if first_pending else self._store.last_seq()
        self._sent_seq = self._confirmed_seq
        self._seen_connections = 0
        self._sent_evidence: set[str] = set()
        self._tokens = 1.0
        self._tokens_at_s = time.monotonic()
        self._backoff_s = config.reconnect_min_s
        self._resume_at_s = 0.0
        self._progress_at_s = time.monotonic()
        self._ack_wait_s = config.ack_timeout_s  # doubled by each timeout without progress
        self._health_due_s = 0.0
        self._refusals = 0
        # Failures of paho callbacks (network thread); the lock orders raising and clearing the fault.
        self._callback_failures = 0
        self._callback_log_due_s = 0.0
        self._inbound_lock = threading.Lock()
        self._inbound_failed_at_s: float | None = None
        self._network_restarts = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        config = self._config
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self._topics.device,
                             protocol=mqtt.MQTTv5)
        client.will_set(self._topics.status, "offline", qos=1, retain=True)
        if config.tls is not None:
            try:
                client.tls_set(ca_certs=str(config.tls.ca_file), certfile=str(config.tls.cert_file),
                               keyfile=str(config.tls.key_file))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"uplink.tls: cannot load the CA, device certificate or key ({exc}); "
                                  "check the three files named there") from None
        client.reconnect_delay_set(min_delay=config.reconnect_min_s, max_delay=config.reconnect_max_s)
        client.on_connect = self._guarded(self._on_connect)
        client.on_disconnect = self._guarded(self._on_disconnect)
        client.on_publish = self._guarded(self._on_publish)
        client.on_message = self._guarded(self._on_message)
        return client

    def start(self) -> None:
        """Connect in the background (retrying with back-off) and start the sender."""
        self._connect_in_background()
        self._sender.start()
        log.info("uplink to %s:%d started", self._config.host, self._config.port)

    def _connect_in_background(self) -> None:
        """Start paho's network thread, which connects (on a new socket, resuming the session)
        and reconnects with back-off."""
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self._config.session_expiry_s
        self._client.connect_async(self._config.host, self._config.port, keepalive=self._config.keepalive_s,
                                   clean_start=False, properties=properties)
        self._client.loop_start()

    def _network_thread_alive(self) -> bool:
        """Whether paho's network thread runs. paho 2.x keeps it in ``Client._thread`` (None once
        ``loop_forever`` has returned or raised) and offers no public way to ask."""
        thread = self._client._thread
        return thread is not None and thread.is_alive()

    def stop(self) -> None:
        """Stop sending, leave with the will (status ``offline``), stop the network loop."""
        self._stopping.set()
        self.nudge()
        if self._sender.is_alive():
            self._sender.join(timeout=10)
        self._client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message"))
        self._client.loop_stop()
        log.info("uplink stopped")

    # -- what other threads call -------------------------------------------------------------

    def nudge(self) -> None:
        """Wake the sender: something new is in the store, or the link changed."""
        with self._wakeup:
            self._nudged = True
            self._wakeup.notify_all()

    def observe(self, event: Event) -> None:
        """A committed event (``roadcam_event``): send it soon; remember the latest health."""
        if event.type == "health":
            with self._wakeup:
                self._latest_health = event.data
        self.nudge()

    def figures(self) -> dict[str, Any]:
        """Figures for the health event."""
        with self._wakeup:
            connected = self._link.connected
        return {"connected": connected, "confirmed_seq": self._confirmed_seq, "sent_seq": self._sent_seq,
                "refused_publishes": self._refusals, "callback_failures": self._callback_failures,
                "network_restarts": self._network_restarts}

    # -- paho callbacks (network thread): record, nudge, return ------------------------------

    def _guarded(self, callback):
        """``callback`` as paho must get it: an exception never leaves it. paho re-raises what a
        callback lets out (``suppress_exceptions`` is off), which ends its network thread: the
        device would never read, ack or answer again."""

        @functools.wraps(callback)
        def guarded(*args) -> None:
            try:
                callback(*args)
            except Exception as exc:
                with contextlib.suppress(Exception):  # reporting must not be what escapes
                    self._callback_failed(callback.__name__, exc)

        return guarded

    def _callback_failed(self, name: str, exc: Exception) -> None:
        """Count a callback's failure, log it (with its traceback) at most every
        CALLBACK_LOG_INTERVAL_S, and raise the ``uplink.inbound`` fault."""
        self._callback_failures += 1
        now_s = time.monotonic()
        if now_s >= self._callback_log_due_s:
            self._callback_log_due_s = now_s + CALLBACK_LOG_INTERVAL_S
            log.error("the MQTT callback %s failed (%d failure(s) so far); the network thread goes on",
                      name, self._callback_failures, exc_info=exc)
        with self._inbound_lock:
            self._inbound_failed_at_s = now_s
            self._appliance.raise_fault("uplink.inbound", "uplink",
                                        f"handling a message from the broker failed in {name}: "
                                        f"{type(exc).__name__}: {str(exc)[:200]}")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            with self._wakeup:
                self._link.refusal = f"{reason_code} (reason code {reason_code.value:#04x})"
            self.nudge()
            return
        self._publish(self._topics.status, "online", retain=True)
        client.subscribe([(self._topics.ack, 1), (self._topics.command("+"), 1), (HOTLIST, 1)])
        with self._wakeup:
            self._link.connected, self._link.refusal, self._link.disconnected_since_s = True, None, None
            self._link.connections += 1
        self.nudge()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._wakeup:
            if self._link.connected:
                self._link.connected, self._link.disconnected_since_s = False, time.monotonic()
        self.nudge()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._pubacks.append((mid, reason_code))
        if reason_code.is_failure:
            self.nudge()

    def _on_message(self, client, userdata, message) -> None:
        if message.topic == self._topics.ack:
            self._take_ack(message.payload)
        elif message.topic.startswith(self._topics.command("")):
            self._take_command(message.topic[len(self._topics.command("")):], message.payload)
        elif message.topic == HOTLIST:
            self._take_command(HOTLIST_COMMAND, message.payload)

    def _take_ack(self, payload: bytes) -> None:
        """Queue the ack, or why it is unreadable, for the sender: it checks the ack against the
        store and logs what it ignores."""
        try:
            self._acks.append(ChainAck.decode(payload))
        except ValueError as unreadable:
            self._acks.append(f"was unreadable ({unreadable})")
        self.nudge()

    def _take_command(self, name: str, payload: bytes) -> None:
        try:
            command = self._gate.admit(name, payload, self._appliance.clock.wall_ns())
        except CommandRefused as refused:
            log.warning("refused command %s: %s", name, refused.reason)
            self._appliance.submit([EventDraft("security.refused", {
                "command": name, "reason": refused.reason, "version": refused.version},
                self._appliance.clock.wall_ns())])
            self._send_result(name, refused.version, {"ok": False, "error": f"refused: {refused.reason}"})
            return
        except OSError as exc:
            self._appliance.raise_fault("uplink.commands", "command-versions", str(exc))
            self._send_result(name, None, {"ok": False, "error": f"the device cannot record the command: {exc}"})
            return
        if command.repeat:  # the retained copy of what was accepted: no answer, no event
            self._appliance.enqueue_command(
                name, command.args, lambda result: log.debug("the retained %s version %d again: %s",
                                                             name, command.version, result),
                version=command.version, record=False)
            return
        self._appliance.enqueue_command(name, command.args,
                                        lambda result: self._send_result(name, command.version, result),
                                        version=command.version)

    def _send_result(self, name: str, version: int | None, result: dict[str, Any]) -> None:
        message = {"command": name, "version": version, "result": result}
        self._publish(self._topics.command_result(name), json.dumps(message, default=str))

    def _publish(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        """QoS 1 publish whose PUBACK reason code the sender will read."""
        with self._publish_lock:
            info = self._client.publish(topic, payload, qos=1, retain=retain)
            self._topic_of_mid[info.mid] = topic

    # -- the sender thread -------------------------------------------------------------------

    def _send_loop(self) -> None:
        while not self._stopping.is_set():
            with self._wakeup:
                if not self._nudged:
                    self._wakeup.wait(timeout=IDLE_WAIT_S)
                self._nudged = False
                link = _LinkState(**vars(self._link))
            if self._stopping.is_set():
                return
            try:
                self._step(link)
                self._appliance.clear_fault("uplink.error", "uplink")
            except Exception as exc:  # the sender must outlive a bad moment; the fault says what
                log.exception("the uplink sender failed")
                self._appliance.raise_fault("uplink.error", "uplink", f"delivery paused: {type(exc).__name__}: {exc}")
                self._stopping.wait(self._config.reconnect_max_s)

    def _step(self, link: _LinkState) -> None:
        now_s = time.monotonic()
        if self._restart_dead_network_thread(now_s):
            return
        self._clear_quiet_inbound_fault(now_s)
        self._confirm(now_s)
        self._read_pubacks(now_s)
        self._watch_connection(link, now_s)
        if not link.connected:
            return
        if link.connections != self._seen_connections:
            self._seen_connections = link.connections
            self._rewind(now_s)
            self._health_due_s = now_s
        if now_s >= self._health_due_s:
            self._publish_health()
            self._health_due_s = now_s + self._config.health_interval_s
        if self._sent_seq > self._confirmed_seq and now_s - self._progress_at_s > self._ack_wait_s:
            longest_s = max(self._config.ack_timeout_max_s, self._config.ack_timeout_s)
            self._ack_wait_s = min(2 * self._ack_wait_s, longest_s)
            log.warning("no acknowledgement for %.0f s: sending events after %d again (next wait %.0f s)",
                        now_s - self._progress_at_s, self._confirmed_seq, self._ack_wait_s)
            self._rewind(now_s)
        if now_s >= self._resume_at_s:
            self._drain()

    def _confirm(self, now_s: float) -> None:
        """Confirm the rows covered by the highest new ack that names an event of this store by
        its seq and digest; progress clears a refusal. An ack naming an event the store does not
        hold, or an unreadable one, is ignored and counted."""
        acks: list[ChainAck] = []
        while self._acks:
            ack = self._acks.popleft()
            if isinstance(ack, str):
                self._ignore_ack(ack, now_s)
            elif ack.seq > self._confirmed_seq:
                acks.append(ack)
        for ack in sorted(acks, key=lambda ack: ack.seq, reverse=True):
            if self._store.confirm(ack.seq, ack.digest) is not None:
                break
            self._ignore_ack(f"named seq {ack.seq} with a digest no event of this store has "
                             "(an ack for the device's store before a reset?)", now_s)
        else:
            return
        self._confirmed_seq = ack.seq
        self._sent_seq = max(self._sent_seq, ack.seq)
        self._progress_at_s = now_s
        self._ack_wait_s = self._config.ack_timeout_s
        self._backoff_s = self._config.reconnect_min_s
        self._appliance.clear_fault("uplink.refused", "broker")

    def _ignore_ack(self, what: str, now_s: float) -> None:
        """Count an ignored ack; log the count at most every IGNORED_ACK_LOG_INTERVAL_S."""
        self._ignored_acks += 1
        if now_s < self._ack_log_due_s:
            return
        log.warning("ignored %d ack(s) since the last report; the latest %s", self._ignored_acks, what)
        self._ignored_acks = 0
        self._ack_log_due_s = now_s + IGNORED_ACK_LOG_INTERVAL_S

    def _read_pubacks(self, now_s: float) -> None:
        """Read every PUBACK's reason code; a refusal raises a fault and backs off."""
        refused: list[tuple[str, ReasonCode]] = []
        with self._publish_lock:
            while self._pubacks:
                mid, reason_code = self._pubacks.popleft()
                topic = self._topic_of_mid.pop(mid, "an unrecorded topic")
                if reason_code.is_failure:
                    refused.append((topic, reason_code))
        if not refused:
            return
        self._refusals += len(refused)
        topic, reason_code = refused[0]
        self._appliance.raise_fault(
            "uplink.refused", "broker",
            f"the broker refused {len(refused)} message(s), the first to {topic}: {reason_code} "
            f"(reason code {reason_code.value:#04x}). Check that the broker's ACL lets this device "
            f"write under {self._topics.base}/ and that its certificate names it.")
        self._resume_at_s = now_s + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self._config.reconnect_max_s)
        self._rewind(now_s)

    def _restart_dead_network_thread(self, now_s: float) -> bool:
        """When paho's network thread died while the uplink runs (something escaped paho's own
        code): raise ``uplink.network``, count the link as down and start a new network loop on a
        new connection (the broker resends what was unacknowledged). True when it restarted."""
        if self._stopping.is_set() or self._network_thread_alive():
            return False
        self._network_restarts += 1
        self._appliance.raise_fault("uplink.network", "uplink",
                                    "the MQTT network thread died (see the log); the uplink reconnects on a new one")
        with self._wakeup:
            if self._link.connected:
                self._link.connected, self._link.disconnected_since_s = False, now_s
        log.error("the MQTT network thread died: restarting it (restart %d)", self._network_restarts)
        self._connect_in_background()
        return True

    def _clear_quiet_inbound_fault(self, now_s: float) -> None:
        """Clear ``uplink.inbound`` once no paho callback has failed for INBOUND_FAULT_QUIET_S."""
        with self._inbound_lock:
            failed_at_s = self._inbound_failed_at_s
            if failed_at_s is not None and now_s - failed_at_s >= INBOUND_FAULT_QUIET_S:
                self._inbound_failed_at_s = None
                self._appliance.clear_fault("uplink.inbound", "uplink")

    def _watch_connection(self, link: _LinkState, now_s: float) -> None:
        """Raise ``uplink.offline`` when the link has been down too long; clear it once back,
        and ``uplink.network`` once a restarted network loop is connected."""
        if link.connected:
            self._appliance.clear_fault("uplink.offline", "broker")
            self._appliance.clear_fault("uplink.network", "uplink")
            return
        down_s = now_s - (link.disconnected_since_s or now_s)
        if down_s >= self._config.offline_fault_after_s:
            why = f" (the broker said: {link.refusal})" if link.refusal else ""
            self._appliance.raise_fault(
                "uplink.offline", "broker",
                f"no connection to the broker {self._config.host}:{self._config.port} for {down_s:.0f} s"
                f"{why}: check the network, the broker and the device certificate; events wait in the outbox")

    def _rewind(self, now_s: float) -> None:
        """Send everything unacknowledged again, from the oldest unconfirmed row."""
        self._sent_seq = self._confirmed_seq
        self._sent_evidence.clear()
        self._progress_at_s = now_s

    def _drain(self) -> None:
        """Send the next pending events (one message, or batches when several wait), within the
        in-flight window and the drain rate."""
        room = self._config.max_in_flight_events - (self._sent_seq - self._confirmed_seq)
        if room <= 0:
            return
        events = self._store.pending(limit=min(room, self._config.batch_max_events), after_seq=self._sent_seq)
        if not events:
            return
        allowed = self._take_tokens(len(events))
        if allowed == 0:
            return
        self._send_events(events[:allowed])
        self._sent_seq = events[allowed - 1].seq
        self.nudge()  # there may be more: come back after reading acks and PUBACKs

    def _take_tokens(self, wanted: int) -> int:
        """How many of ``wanted`` events may go now under the drain rate (bursts up to one
        second's worth), after waiting until that many (at most a second's worth) are allowed;
        0 when stopping."""
        rate = self._config.drain_rate_per_s
        needed = min(wanted, max(1, int(rate)))
        now_s = time.monotonic()
        self._tokens = min(max(1.0, rate), self._tokens + (now_s - self._tokens_at_s) * rate)
        self._tokens_at_s = now_s
        if self._tokens < needed:
            if self._stopping.wait((needed - self._tokens) / rate):
                return 0
            self._tokens, self._tokens_at_s = float(needed), time.monotonic()
        allowed = min(wanted, int(self._tokens))
        self._tokens -= allowed
        return allowed

    def _send_events(self, events: list[Event]) -> None:
        """Publish the events' evidence files (not yet sent on this connection), then the events:
        one alone on its type's topic, several as batches."""
        for event in events:
            self._send_evidence_of(event)
        if len(events) == 1:
            self._publish(self._topics.event(events[0].type), events[0].model_dump_json())
            return
        for payload in encode_event_batches(events, self._config.batch_max_bytes):
            self._publish(self._topics.event_batch, payload)

    def _send_evidence_of(self, event: Event) -> None:
        """Publish the event's evidence files not yet sent on this connection."""
        for reference in event.evidence:
            if reference.sha256 in self._sent_evidence:
                continue
            try:
                data = self._store.read_evidence(reference.sha256)
            except StoreError as exc:
                self._declare_lost(event, reference.sha256, exc)
                continue
            self._publish(self._topics.evidence(reference.sha256), data)
            if len(self._sent_evidence) >= SENT_EVIDENCE_MEMORY:
                self._sent_evidence.clear()
            self._sent_evidence.add(reference.sha256)

    def _declare_lost(self, event: Event, sha256: str, error: StoreError) -> None:
        """An evidence file the store cannot give back (missing or corrupt): raise a fault and,
        the first time, store a signed ``evidence.lost`` event naming it. The collector acks an
        event only once its evidence is stored, so without this declaration the chain's acks
        would stop at this event for good and the outbox would fill."""
        if self._appliance.raise_fault("uplink.evidence", sha256,
                                       f"event {event.seq} goes out without this evidence: {error}"):
            self._appliance.submit([EventDraft("evidence.lost", {
                "sha256": sha256, "event_seq": event.seq, "reason": str(error)[:500]},
                self._appliance.clock.wall_ns())])

    def _publish_health(self) -> None:
        """Refresh the retained health summary: outbox, delivery, active faults with their
        severities and the worst (``FaultBoard.summary``), latest health, and where the box stands
        (``device.location``, when the site config has one), so the collector learns it from the
        device itself."""
        usage = self._store.usage()
        with self._wakeup:
            latest = self._latest_health
        summary = {"time": iso_utc(self._appliance.clock.wall_ns()), "pending": usage.pending,
                   "last_seq": self._store.last_seq(), "confirmed_seq": self._confirmed_seq,
                   **self._appliance.faults.summary(), "health": latest}
        location = self._appliance.config.device.location
        if location is not None:
            summary["location"] = location.model_dump(exclude_none=True)
        self._publish(self._topics.health, json.dumps(summary, default=str), retain=True)
