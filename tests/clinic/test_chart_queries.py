"""The chart's panels read with their SQL compiled once (clinic.compiled, issue 11): each query runs with its values
in the places where the ORM put its samples."""

import pytest

from billing.selectors import COVERAGES_OF_PATIENT
from clinic.alerts import OPEN_ALERTS_OF_PATIENT
from clinic.selectors import CHART_ENROLLMENTS
from outcomes.reports.selectors import CHART_REPORTS_OF_PATIENT
from scheduling.floorsheet import OPEN_FLAGS_OF_PATIENT
from scheduling.reminders import CHART_REMINDER_HISTORY
from scheduling.selectors import PAST_SESSIONS, UPCOMING_SESSIONS

CHART_QUERIES = [
    COVERAGES_OF_PATIENT, OPEN_ALERTS_OF_PATIENT, CHART_ENROLLMENTS, CHART_REPORTS_OF_PATIENT,
    OPEN_FLAGS_OF_PATIENT, CHART_REMINDER_HISTORY, PAST_SESSIONS, UPCOMING_SESSIONS,
]  # fmt: skip


@pytest.mark.parametrize("query", CHART_QUERIES)
def test_each_compiled_chart_query_places_its_values(db, query):
    assert query.rows(**query.samples) == []  # its SQL runs; compiling it found a placeholder for each sample
