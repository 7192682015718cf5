"""The collector's configuration: one YAML file, pydantic models, errors with field paths.

Relative paths in the file are taken relative to the file's own folder, so a config and the
keys and certificates beside it can be moved together.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roadcam.common.yaml_config import load_yaml, validate_config

from .clock_check import ClockCheckSettings
from .sections import SectionSettings


class Section(BaseModel):
    """Base of every collector config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class TlsSettings(Section):
    """Client certificate the collector presents to the broker (CN must be collector-*)."""

    ca_file: Path = Field(title="CA file", description="PEM CA certificate the broker's is signed by.")
    cert_file: Path = Field(title="Certificate", description="PEM client certificate (CN collector-…).")
    key_file: Path = Field(title="Key", description="PEM private key of the client certificate.")


class BrokerSettings(Section):
    """Where the MQTT broker is and how this collector's session behaves."""

    host: str = Field("localhost", title="Host", description="Broker host name or address.")
    port: int = Field(8883, ge=1, le=65535, title="Port", description="Broker port (TLS: 8883).")
    tls: TlsSettings | None = Field(None, title="TLS", description="Omit only for a local test broker.")
    client_id: str = Field("collector-1", min_length=1, title="Client id",
                           description="Unique per collector instance; it names the persistent "
                                       "session, so a restarted instance gets its unacked messages back.")
    keepalive_s: int = Field(30, ge=5, title="Keepalive", description="MQTT keepalive in seconds.")
    reconnect_max_s: int = Field(5, ge=1, le=120, title="Reconnect delay maximum",
                                 description="Longest wait between attempts to reach a lost broker "
                                             "(doubling from 1 s); devices wait for the collector's "
                                             "acks, so it comes back soon after the broker does.")
    session_expiry_s: int = Field(86_400, ge=0, title="Session expiry",
                                  description="How long the broker keeps this collector's session "
                                              "(and its undelivered messages) while it is away.")
    receive_maximum: int = Field(1000, ge=1, le=65_535, title="Receive maximum",
                                 description="Unacknowledged QoS 1 messages the broker may have in "
                                             "flight to this collector; bounds a batch.")


class StorageSettings(Section):
    """Where the collector keeps events and evidence: a SQLite file (``database``) or, for a
    city, a PostgreSQL database (``url``); exactly one of the two."""

    database: Path | None = Field(None, title="Database",
                                  description="SQLite database file (created if missing).")
    url: str | None = Field(None, pattern=r"^postgres(ql)?://", title="PostgreSQL URL",
                            description="postgresql://user:password@host:port/dbname; the tables "
                                        "are created on first use. Needs roadcam[postgres].")
    evidence_dir: Path = Field(title="Evidence folder", description="Content-addressed evidence files.")

    @model_validator(mode="after")
    def _one_database(self):
        if (self.database is None) == (self.url is None):
            raise ValueError("give exactly one of storage.database (a SQLite file) and "
                             "storage.url (postgresql://... for a PostgreSQL server)")
        return self


class LimitSettings(Section):
    """Sizes above which a message is refused before it is parsed, and bounds on what an event
    may hold once parsed (numbers are bounded by :mod:`roadcam.collector.ingest` itself: those bounds
    are what storage and JSON readers can take, not a policy)."""

    max_event_bytes: int = Field(65_536, ge=1024, title="Event size", description="Largest event JSON.")
    max_evidence_bytes: int = Field(16 * 1024 * 1024, ge=1024, title="Evidence size",
                                    description="Largest evidence file.")
    max_health_bytes: int = Field(65_536, ge=1024, title="Health size",
                                  description="Largest health summary JSON.")
    max_batch_bytes: int = Field(4 * 1024 * 1024, ge=1024, title="Event batch size",
                                 description="Largest batch message (several events of one device, "
                                             "JSON lines); each line must also fit max_event_bytes.")
    max_batch_events: int = Field(1000, ge=1, title="Events per batch",
                                  description="Most events one batch message may carry.")
    max_string_chars: int = Field(4096, ge=64, title="String length",
                                  description="Longest string (or object key) anywhere in an "
                                              "event's clock, data and evidence list, or a health "
                                              "summary.")
    max_items: int = Field(1000, ge=1, title="Items per list",
                           description="Most items of one list or keys of one object in an "
                                       "event or a health summary (also evidence files per event).")
    max_depth: int = Field(16, ge=2, le=64, title="Nesting depth",
                           description="Deepest nesting of lists and objects in an event's data "
                                       "or a health summary (data itself is level 1).")


class MailSettings(Section):
    """Where the fault report is mailed (SMTP), and to whom."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: str = Field(min_length=1, title="SMTP host", description="The mail server's host name or address.")
    port: int = Field(587, ge=1, le=65535, title="SMTP port",
                      description="587 for submission with STARTTLS, 25 for a relay.")
    starttls: bool = Field(True, title="STARTTLS",
                           description="Upgrade the connection with STARTTLS before anything is sent "
                                       "(the server's certificate is verified); false only for a "
                                       "relay on the collector's own host or network.")
    ca_file: Path | None = Field(None, title="CA file",
                                 description="PEM CA the server's certificate must be signed by "
                                             "(default: the system's CAs).")
    username: str | None = Field(None, title="User name", description="SMTP login, if the server asks for one.")
    password_file: Path | None = Field(None, title="Password file",
                                       description="File holding the SMTP password (one line), "
                                                   "readable only by the collector's user.")
    sender: str = Field(alias="from", min_length=3, pattern=r"^[^@\s]+@[^@\s]+$", title="From",
                        description="The report's sender address.")
    to: list[str] = Field(min_length=1, title="To", description="Addresses the report goes to.")
    timeout_s: float = Field(30.0, gt=0, le=600, title="Timeout",
                             description="Seconds to wait for the server at each step.")

    @model_validator(mode="after")
    def _password_with_user(self):
        if (self.username is None) != (self.password_file is None):
            raise ValueError("give both report.mail.username and report.mail.password_file, or neither")
        for address in self.to:
            if "@" not in address or any(char.isspace() for char in address):
                raise ValueError(f"report.mail.to: {address!r} is not a mail address")
        return self


class ReportSettings(Section):
    """The fault report (``roadcam-collector report faults``)."""

    period_h: float = Field(12.0, gt=0, le=24 * 366, title="Period",
                            description="Hours the report covers, up to when it runs (12: the "
                                        "timer runs it twice a day).")
    silent_after_s: float = Field(150.0, ge=10, title="Silent after",
                                  description="A device still connected whose health summary is older "
                                              "than this is listed as silent (critical); the device "
                                              "refreshes it every uplink.health_interval_s (60 s).")
    mail: MailSettings | None = Field(None, title="Mail", description="SMTP settings for --mail.")


class CollectorConfig(Section):
    """The whole collector config file."""

    broker: BrokerSettings = Field(default_factory=BrokerSettings, title="Broker", description="MQTT broker.")
    storage: StorageSettings = Field(title="Storage", description="Database and evidence folder.")
    device_keys_dir: Path = Field(title="Device keys", description="Folder of <device-id>.pem Ed25519 "
                                                                   "public keys; a device without one is refused.")
    signing_key: Path | None = Field(None, title="Signing key",
                                     description="The collector's Ed25519 private key (PEM) for "
                                                 "commands and hotlists.")
    limits: LimitSettings = Field(default_factory=LimitSettings, title="Limits", description="Size limits.")
    batch_max: int = Field(500, ge=1, title="Batch", description="Most messages stored per commit.")
    report: ReportSettings = Field(default_factory=ReportSettings, title="Fault report",
                                   description="The fault report's period, silence limit and mail.")
    sections: list[SectionSettings] = Field(default_factory=list, title="Speed sections",
                                            description="Road sections whose average speed the collector "
                                                        "enforces from speed.passage events (collector.sections).")
    clock_check: ClockCheckSettings = Field(default_factory=ClockCheckSettings, title="Clock check",
                                            description="How devices' clock claims are checked against the "
                                                        "collector's receive time (collector.clock_check).")

    @model_validator(mode="after")
    def _unique_sections(self):
        names = [section.name for section in self.sections]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"sections: names must be unique; repeated: {', '.join(repeated)}")
        return self


def load_collector_config(path: Path) -> CollectorConfig:
    """Read and validate a collector config file; ConfigError lists every problem with its line."""
    path = Path(path)
    data, node = load_yaml(path)
    config = validate_config(CollectorConfig, data, node, source=str(path))
    return _resolve_paths(config, path.resolve().parent)


def _resolve_paths(config: CollectorConfig, base: Path) -> CollectorConfig:
    """The config with every relative path made relative to ``base``."""
    def resolve(path: Path | None) -> Path | None:
        return None if path is None else (base / path).resolve()

    tls = config.broker.tls
    if tls is not None:
        tls = tls.model_copy(update={name: resolve(getattr(tls, name))
                                     for name in ("ca_file", "cert_file", "key_file")})
    storage = config.storage.model_copy(update={"database": resolve(config.storage.database),
                                                "evidence_dir": resolve(config.storage.evidence_dir)})
    report = config.report
    if report.mail is not None:
        report = report.model_copy(update={"mail": report.mail.model_copy(update={
            name: resolve(getattr(report.mail, name)) for name in ("ca_file", "password_file")})})
    return config.model_copy(update={
        "report": report,
        "broker": config.broker.model_copy(update={"tls": tls}),
        "storage": storage,
        "device_keys_dir": resolve(config.device_keys_dir),
        "signing_key": resolve(config.signing_key),
    })
