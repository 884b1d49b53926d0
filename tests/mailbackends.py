"""Stand-ins for the mail server (the outside world): one that is down, one that is slow."""

import os
import time
import uuid
from pathlib import Path
from smtplib import SMTPServerDisconnected

from django.core.mail.backends.base import BaseEmailBackend


class DownEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise SMTPServerDisconnected("Connection unexpectedly closed")


class SlowFileEmailBackend(BaseEmailBackend):
    """Marks that sending began, takes a few seconds, then writes each message to a file: a sender
    killed in between has sent nothing."""

    def send_messages(self, email_messages):
        folder = Path(os.environ["MEDFIT_TEST_EMAIL_DIR"])
        (folder / f"started-{uuid.uuid4().hex}").touch()
        time.sleep(float(os.environ.get("MEDFIT_TEST_EMAIL_SECONDS", "3")))
        for message in email_messages:
            (folder / f"sent-{uuid.uuid4().hex}.eml").write_bytes(message.message().as_bytes())
        return len(email_messages)
