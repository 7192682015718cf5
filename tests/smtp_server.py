"""A small SMTP server on a thread for the fault-report tests: EHLO/HELO, STARTTLS (with a
given certificate), AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT (RFC 5321 and 3207), enough
for :mod:`smtplib`. It keeps every message it accepted (envelope and parsed mail), and can
require STARTTLS before MAIL, as a submission server does.
"""

from __future__ import annotations

import base64
import email
import email.policy
import socketserver
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass(frozen=True)
class Received:
    """One accepted message."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    message: EmailMessage
    over_tls: bool
    user: str | None


class _Handler(socketserver.BaseRequestHandler):
    server: SmtpServer

    def handle(self) -> None:
        self.connection = self.request
        self.reader = self.connection.makefile("rb")
        self.tls = False
        self.user: str | None = None
        self.reset()
        self.reply("220 localhost roadcam test SMTP")
        while True:
            line = self.reader.readline(1000)
            if not line:
                return
            verb, _, argument = line.decode("ascii", "replace").rstrip("\r\n").partition(" ")
            if not self.command(verb.upper(), argument):
                return

    def reset(self) -> None:
        self.mail_from: str | None = None
        self.rcpt_to: list[str] = []

    def reply(self, text: str) -> None:
        self.connection.sendall(text.encode("ascii") + b"\r\n")

    def command(self, verb: str, argument: str) -> bool:
        """Answer one command; False ends the session."""
        server = self.server
        if verb in ("EHLO", "HELO"):
            extensions = ["250-localhost", "250-AUTH PLAIN"]
            if server.tls_context is not None and not self.tls:
                extensions.append("250-STARTTLS")
            self.reply("\r\n".join(extensions + ["250 8BITMIME"]) if verb == "EHLO" else "250 localhost")
        elif verb == "STARTTLS" and server.tls_context is not None and not self.tls:
            self.reply("220 ready to start TLS")
            self.connection = server.tls_context.wrap_socket(self.connection, server_side=True)
            self.reader = self.connection.makefile("rb")
            self.tls = True
            self.reset()
        elif verb == "AUTH" and argument.upper().startswith("PLAIN "):
            _, user, password = base64.b64decode(argument.split(" ", 1)[1]).decode().split("\0")
            if (user, password) == server.login:
                self.user = user
                self.reply("235 authenticated")
            else:
                self.reply("535 authentication failed")
        elif verb == "MAIL":
            if server.require_tls and not self.tls:
                self.reply("530 must issue a STARTTLS command first")
            elif server.login is not None and self.user is None:
                self.reply("530 authentication required")
            else:
                self.mail_from = _address(argument)
                self.reply("250 ok")
        elif verb == "RCPT" and self.mail_from is not None:
            address = _address(argument)
            if address in server.refuse:
                self.reply("550 no such user")
            else:
                self.rcpt_to.append(address)
                self.reply("250 ok")
        elif verb == "DATA" and self.rcpt_to:
            self.reply("354 end with <CRLF>.<CRLF>")
            lines = []
            while (line := self.reader.readline()) not in (b".\r\n", b""):
                lines.append(line[1:] if line.startswith(b"..") else line)
            message = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
            with server.lock:
                server.received.append(Received(self.mail_from, tuple(self.rcpt_to), message, self.tls, self.user))
            self.reset()
            self.reply("250 queued")
        elif verb == "RSET":
            self.reset()
            self.reply("250 ok")
        elif verb == "NOOP":
            self.reply("250 ok")
        elif verb == "QUIT":
            self.reply("221 bye")
            return False
        else:
            self.reply("503 bad sequence of commands")
        return True


def _address(argument: str) -> str:
    """The address inside ``FROM:<a@b>`` / ``TO:<a@b> SIZE=…``."""
    return argument.split(":", 1)[1].strip().split(" ")[0].strip("<>")


class SmtpServer(socketserver.ThreadingTCPServer):
    """Listens on 127.0.0.1 on a free port; ``with SmtpServer(...) as server`` runs it on a thread.
    ``cert``/``key`` enable STARTTLS; ``require_tls`` refuses MAIL before it; ``login`` (user,
    password) requires AUTH PLAIN; ``refuse`` lists recipients answered 550."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, cert=None, key=None, require_tls: bool = False,
                 login: tuple[str, str] | None = None, refuse: tuple[str, ...] = ()):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls_context: ssl.SSLContext | None = None
        if cert is not None:
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(str(cert), str(key))
        self.require_tls = require_tls
        self.login = login
        self.refuse = refuse
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def __enter__(self) -> SmtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
