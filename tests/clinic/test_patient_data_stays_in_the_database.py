"""No patient data outside the database: not in PostgreSQL's own log."""

import os
import time
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from clinic.models import Patient
from tests.conftest import make_patient

DISTINCTIVE = {"first_name": "Zebulon", "last_name": "Quixwortley", "date_of_birth": "1937-05-06", "mbi": "1EG4TE5MK73"}


@pytest.fixture
def server_log():
    path = os.environ.get("MEDFIT_POSTGRES_LOG", "")
    if not path or not os.access(path, os.R_OK):
        pytest.skip("MEDFIT_POSTGRES_LOG names no readable server log (set by devservices and .ci/run)")
    return Path(path)


def test_a_unique_violation_leaves_no_patient_data_in_the_servers_log(server_log, clinic_a):
    make_patient(clinic_a, "ZQ-1937", **DISTINCTIVE)
    start = server_log.stat().st_size
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(clinic=clinic_a, mrn="ZQ-1937", **DISTINCTIVE)
    time.sleep(0.5)  # the server writes its log asynchronously
    with server_log.open("rb") as log:
        log.seek(start)
        written = log.read().decode(errors="replace")
    assert "duplicate key" in written  # the error itself is logged, as it should be
    for value in ["Quixwortley", "Zebulon", "1937-05-06", "1EG4TE5MK73", "ZQ-1937"]:
        assert value not in written
