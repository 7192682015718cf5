"""Mail the fault report over SMTP (the standard library's smtplib), as the collector config's
``report.mail`` says: STARTTLS with the server's certificate verified (unless turned off for a
local relay), an optional login whose password is read from a file, one message with a plain
text and an HTML part.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from roadcam.common.errors import ConfigError, RoadcamError

from .config import MailSettings

#: What ``roadcam-collector report faults --mail`` exits with when the report was made but could
#: not be mailed (a config error exits 2), so a timer or a script can tell the two apart.
MAIL_FAILED_EXIT = 3


class MailError(RoadcamError, OSError):
    """The report could not be handed to the mail server (nothing was sent, or not to everyone)."""

    exit_code = MAIL_FAILED_EXIT


def report_message(mail: MailSettings, subject: str, text: str, html: str) -> EmailMessage:
    """The report as one mail: ``text`` for plain readers, ``html`` as the alternative."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.to)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=mail.sender.rpartition("@")[2])
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send(mail: MailSettings, message: EmailMessage) -> None:
    """Hand ``message`` to the server; MailError names what failed and the config to check."""
    password = _password(mail)
    where = f"{mail.host}:{mail.port}"
    try:
        with smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout_s) as server:
            server.ehlo()
            if mail.starttls:
                context = ssl.create_default_context(cafile=None if mail.ca_file is None else str(mail.ca_file))
                server.starttls(context=context)
                server.ehlo()
            if mail.username is not None:
                server.login(mail.username, password)
            refused = server.send_message(message, from_addr=mail.sender, to_addrs=mail.to)
    except (OSError, smtplib.SMTPException) as error:  # SMTPException and ssl.SSLError are OSErrors
        raise MailError(f"cannot mail the fault report through {where}: {type(error).__name__}: {error}. "
                        "Check report.mail (host, port, starttls, ca_file, username) in the collector "
                        "config and that the server accepts the collector") from error
    if refused:
        raise MailError(f"the mail server {where} refused {', '.join(sorted(refused))}: "
                        f"{refused}; the others got the report")


def _password(mail: MailSettings) -> str:
    if mail.password_file is None:
        return ""
    try:
        return mail.password_file.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"report.mail.password_file: cannot read {mail.password_file}: "
                          f"{error.strerror}") from error
