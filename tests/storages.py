"""A stand-in for the file storage that is slow (the disk or object store under load), so that a test can
kill the process storing a file at a known point."""

import os
import time
import uuid
from pathlib import Path

from django.core.files.storage import FileSystemStorage


class SlowFileSystemStorage(FileSystemStorage):
    """Marks in MEDFIT_TEST_STORAGE_DIR that a save began, then waits MEDFIT_TEST_STORAGE_SECONDS before the
    file is written (MEDFIT_TEST_STORAGE_PAUSE=before) or after it (=after): a process killed in that wait
    has written nothing, or a file whose row never committed."""

    def _save(self, name, content):
        folder = Path(os.environ["MEDFIT_TEST_STORAGE_DIR"])
        seconds = float(os.environ.get("MEDFIT_TEST_STORAGE_SECONDS", "3"))
        pause_after = os.environ.get("MEDFIT_TEST_STORAGE_PAUSE", "before") == "after"
        if not pause_after:
            (folder / f"started-{uuid.uuid4().hex}").touch()
            time.sleep(seconds)
        name = super()._save(name, content)
        if pause_after:
            (folder / f"started-{uuid.uuid4().hex}").touch()
            time.sleep(seconds)
        return name
