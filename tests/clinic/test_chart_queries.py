"""The chart's panels read with their SQL compiled once (clinic.compiled, issue 11): each query places its values
where the ORM put its samples, and the instances built from the rows hold the values in their own fields."""

import pytest

from billing.selectors import COVERAGES_OF_PATIENT
from clinic.alerts import OPEN_ALERTS_OF_PATIENT
from clinic.compiled import loaded
from clinic.selectors import CHART_ENROLLMENTS
from outcomes.reports.selectors import CHART_REPORTS_OF_PATIENT
from scheduling.floorsheet import OPEN_FLAGS_OF_PATIENT
from scheduling.models import Booking
from scheduling.reminders import CHART_REMINDER_HISTORY
from scheduling.selectors import PAST_SESSIONS, UPCOMING_SESSIONS

CHART_QUERIES = [
    COVERAGES_OF_PATIENT, OPEN_ALERTS_OF_PATIENT, CHART_ENROLLMENTS, CHART_REPORTS_OF_PATIENT,
    OPEN_FLAGS_OF_PATIENT, CHART_REMINDER_HISTORY, PAST_SESSIONS, UPCOMING_SESSIONS,
]  # fmt: skip


@pytest.mark.parametrize("query", CHART_QUERIES)
def test_each_compiled_chart_query_places_its_values(db, query):
    assert query.sql.count("%s") == len(query.samples)  # and CompiledQuery.sql checked their order


def test_a_loaded_instance_holds_its_values_in_their_fields_whatever_their_order():
    booking = loaded(Booking, status="waitlisted", occurrence_id=4, id=3)
    assert (booking.pk, booking.status, booking.occurrence_id) == (3, "waitlisted", 4)
    assert booking.get_status_display() == "Waitlisted"
    assert {"patient_id", "booked_at"} <= booking.get_deferred_fields()


def test_a_loaded_instance_refuses_a_name_that_is_not_a_column():
    with pytest.raises(ValueError, match="not columns of Booking: \\['occurrence'\\]"):
        loaded(Booking, id=3, occurrence=4)
