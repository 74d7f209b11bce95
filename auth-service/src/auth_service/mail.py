"""Composing voter mail and handing it to a transport: SMTP (aiosmtplib) or, with no SMTP
server configured outside prod mode, the local dev mailbox table.

The link carries the token in the URL fragment (``{public_url}/vote#token=…``): browsers
never send the fragment to a server, so the token cannot end up in an access log, a proxy
log or a ``Referer`` header; the booth page reads it and posts it to the redeem endpoint.

Transports raise :class:`DeliveryFailed` with ``permanent`` set when retrying cannot help
(the server refused the recipient with a 5xx code) and a short category as the reason,
never the server's text (it may quote the address).
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from auth_service.models import DevMail
from auth_service.roll_reader import ElectionView, VoterView
from securevote.config import Mode, Settings
from securevote.db import Database

_TEMPLATES = Environment(
    loader=PackageLoader("auth_service", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_SUBJECTS = {
    "invitation": "Your voting link: {title}",
    "resend": "Your new voting link: {title}",
    "reminder": "Reminder: please vote in {title}",
}


class DeliveryFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str  # the outbox row's id
    election_id: str
    recipient: str
    recipient_name: str | None
    subject: str
    text: str
    html: str

    def to_bytes(self, sender: str) -> bytes:
        """The MIME message (multipart/alternative: plain text, then HTML), as sent.

        Built with the compat32 classes, which are several times faster than EmailMessage;
        names and the subject are RFC 2047-encoded, and nothing in a header can carry a line
        break (ValueError otherwise: the mail is recorded as failed, never sent broken)."""
        for value in (sender, self.recipient, self.recipient_name or "", self.subject):
            if "\r" in value or "\n" in value:
                raise ValueError("a header value contains a line break")
        if any(character.isspace() for character in self.recipient):
            raise ValueError("the recipient address contains white space")
        message = MIMEMultipart("alternative")
        message["From"] = sender
        message["To"] = email.utils.formataddr(
            (self.recipient_name or "", self.recipient), charset="utf-8"
        )
        message["Subject"] = (
            self.subject if self.subject.isascii() else Header(self.subject, "utf-8").encode()
        )
        message["Date"] = email.utils.formatdate(localtime=False)
        domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "localhost"
        message["Message-ID"] = email.utils.make_msgid(domain=domain)
        message.attach(MIMEText(self.text, "plain", "utf-8"))
        message.attach(MIMEText(self.html, "html", "utf-8"))
        return message.as_bytes()


def voting_link(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/vote#token={token}"


def _deadline(election: ElectionView) -> str:
    try:
        zone = ZoneInfo(election.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local: datetime = election.closes_at.astimezone(zone)
    return f"{local:%A %d %B %Y, %H:%M} ({zone.key})"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def compose(
    settings: Settings,
    *,
    message_id: str,
    kind: str,
    election: ElectionView,
    voter: VoterView,
    token: str,
) -> OutgoingMail:
    title = _one_line(election.title)
    values = {
        "kind": kind,
        "title": title,
        "link": voting_link(settings, token),
        "deadline": _deadline(election),
        "needs_roll_secret": election.needs_roll_secret,
        "allow_revoting": election.allow_revoting,
        "subject": _SUBJECTS[kind].format(title=title),
    }
    return OutgoingMail(
        message_id=message_id,
        election_id=election.id,
        recipient=voter.email,
        recipient_name=_one_line(voter.name) if voter.name else None,
        subject=str(values["subject"]),
        text=_TEMPLATES.get_template("voter_mail.txt").render(values),
        html=_TEMPLATES.get_template("voter_mail.html").render(values),
    )


class Transport(Protocol):
    async def send(self, mail: OutgoingMail) -> None:
        """Deliver or raise DeliveryFailed."""

    async def close(self) -> None: ...


class DevMailbox:
    """Keeps mail in the ``dev_mailbox`` table (dev and test mode without SMTP)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def send(self, mail: OutgoingMail) -> None:
        async with self._database.session() as session:
            session.add(
                DevMail(
                    message_id=mail.message_id,
                    election_id=mail.election_id,
                    recipient=email.utils.formataddr((mail.recipient_name or "", mail.recipient)),
                    subject=mail.subject,
                    text_body=mail.text,
                    html_body=mail.html,
                    created_at=datetime.now(UTC),
                )
            )

    async def close(self) -> None:
        return None


class SmtpTransport:
    """One SMTP connection, opened on first use and reopened if the server drops it."""

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host is not None
        self._settings = settings
        self._client: aiosmtplib.SMTP | None = None

    def _new_client(self) -> aiosmtplib.SMTP:
        settings = self._settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password,
            use_tls=settings.smtp_security == "tls",
            start_tls=settings.smtp_security == "starttls",
            timeout=settings.smtp_timeout_seconds,
        )

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is None or not self._client.is_connected:
            client = self._new_client()
            try:
                await client.connect()
            except aiosmtplib.SMTPAuthenticationError as exc:
                raise DeliveryFailed("smtp_authentication", permanent=False) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise DeliveryFailed("smtp_unreachable", permanent=False) from exc
            self._client = client
        return self._client

    async def send(self, mail: OutgoingMail) -> None:
        sender = self._settings.mail_from
        message = mail.to_bytes(sender)
        envelope_from = email.utils.parseaddr(sender)[1]
        for attempt in (1, 2):
            client = await self._connected()
            try:
                await client.sendmail(envelope_from, [mail.recipient], message)
                return
            except aiosmtplib.SMTPServerDisconnected as exc:
                self._client = None
                if attempt == 2:
                    raise DeliveryFailed("smtp_disconnected", permanent=False) from exc
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [refusal.code for refusal in exc.recipients]
                permanent = bool(codes) and all(500 <= code < 600 for code in codes)
                raise DeliveryFailed("recipient_refused", permanent=permanent) from exc
            except aiosmtplib.SMTPSenderRefused as exc:
                raise DeliveryFailed("sender_refused", permanent=False) from exc
            except aiosmtplib.SMTPResponseException as exc:
                permanent = 500 <= exc.code < 600
                raise DeliveryFailed(f"smtp_{exc.code // 100}xx", permanent=permanent) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                self._client = None
                raise DeliveryFailed("smtp_error", permanent=False) from exc

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


def mail_configured(settings: Settings) -> bool:
    """SMTP is configured, or mail may go to the dev mailbox (never in prod mode)."""
    return settings.smtp_host is not None or settings.mode is not Mode.PROD


def new_transport(settings: Settings, database: Database) -> Transport:
    if settings.smtp_host is not None:
        return SmtpTransport(settings)
    if settings.mode is Mode.PROD:
        raise RuntimeError("no SMTP server configured (SECUREVOTE_SMTP_HOST)")
    return DevMailbox(database)
