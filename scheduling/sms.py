"""Text messages through a small backend interface, after django.core.mail's.

Callers use `send_sms(to, body)`; `settings.SMS_BACKEND` names the class that delivers. A provider
(Twilio, Amazon SNS, ...) plugs in as a class with a `send(message)` method that raises on failure,
without touching any caller:

    class ProviderBackend(BaseBackend):
        def send(self, message: SmsMessage) -> None: ...

    SMS_BACKEND = "myclinic.sms.ProviderBackend"
"""

import sys
import threading
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

# What LocMemBackend sent, like django.core.mail.outbox; tests empty it.
outbox: list["SmsMessage"] = []
_outbox_lock = threading.Lock()


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


class SmsNotConfigured(Exception):
    """No provider is set up: the message stays unsent (and is retried) rather than going nowhere."""


class BaseBackend:
    def send(self, message: SmsMessage) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    """Development: prints each message (never use it in production: logs must not hold patient data)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, message: SmsMessage) -> None:
        self.stream.write(f"SMS to {message.to}\n{message.body}\n{'-' * 40}\n")
        self.stream.flush()


class LocMemBackend(BaseBackend):
    """Tests: keeps each message in `scheduling.sms.outbox`."""

    def send(self, message: SmsMessage) -> None:
        with _outbox_lock:
            outbox.append(message)


class NotConfiguredBackend(BaseBackend):
    """Production default until a provider is named in SMS_BACKEND."""

    def send(self, message: SmsMessage) -> None:
        raise SmsNotConfigured("No SMS provider is configured (settings.SMS_BACKEND).")


def get_backend(path: str | None = None) -> BaseBackend:
    return import_string(path or settings.SMS_BACKEND)()


def send_sms(to: str, body: str, *, backend: BaseBackend | None = None) -> None:
    """Send one text message; raises when the backend could not deliver it."""
    (backend or get_backend()).send(SmsMessage(to=to, body=body))
