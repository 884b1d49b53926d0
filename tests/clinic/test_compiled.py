"""clinic.compiled: a queryset's SQL compiled once and run with other values (issue 11). Each value goes where the
ORM put its sample; every other value the ORM compiled in stays as it was."""

import pytest

from clinic.compiled import AnyOf, CompiledQuery, loaded, loaded_row, paths_of
from clinic.models import Clinic, Membership
from scheduling.models import Booking, Occurrence


def _clinic_ids(rows) -> set[int]:
    return {clinic_id for (clinic_id,) in rows}


def test_each_value_goes_where_the_orm_put_the_sample_of_the_same_name(person_in_three_clinics):
    user, clinics = person_in_three_clinics
    query = CompiledQuery(
        lambda user_id, clinic_ids: Membership.objects.filter(AnyOf("clinic_id", clinic_ids), user_id=user_id)
        .values_list("clinic_id"),
        user_id=-1, clinic_ids=[-2],
    )  # fmt: skip
    assert _clinic_ids(query.rows(user_id=user.pk, clinic_ids=[clinics["gone"]])) == {clinics["gone"]}
    assert query.rows(user_id=-5, clinic_ids=[clinics["gone"]]) == []


def test_a_value_the_orm_compiled_in_that_is_no_sample_stays_as_it_was(person_in_three_clinics):
    user, clinics = person_in_three_clinics
    query = CompiledQuery(
        lambda user_id: Membership.objects.filter(user_id=user_id, is_active__in=[False]).values_list("clinic_id"),
        user_id=-1,
    )
    assert _clinic_ids(query.rows(user_id=user.pk)) == {clinics["gone"]}


def test_a_boolean_the_orm_compiled_in_is_not_taken_for_an_int_sample_equal_to_it(person_in_three_clinics):
    user, clinics = person_in_three_clinics
    query = CompiledQuery(  # True == 1 in Python: equality alone would put the user's id in the place of True
        lambda user_id: Membership.objects.filter(is_active__in=[True], user_id=user_id).values_list("clinic_id"),
        user_id=1,
    )
    assert _clinic_ids(query.rows(user_id=user.pk)) == set(clinics["active"])


def test_a_list_goes_in_as_one_array_so_one_sql_serves_every_length(person_in_three_clinics):
    user, clinics = person_in_three_clinics
    query = CompiledQuery(
        lambda clinic_ids: Membership.objects.filter(AnyOf("clinic_id", clinic_ids), user_id=user.pk)
        .values_list("clinic_id"),
        clinic_ids=[-2],
    )  # fmt: skip
    everywhere = [*clinics["active"], clinics["gone"]]
    assert _clinic_ids(query.rows(clinic_ids=everywhere)) == set(everywhere)
    assert _clinic_ids(query.rows(clinic_ids=clinics["active"][:1])) == set(clinics["active"][:1])
    assert query.rows(clinic_ids=[]) == []
    sql, _ = query.compiled
    assert sql.count("%s") == 2  # the user's id, and the list


def test_a_sample_the_orm_did_not_compile_in_is_refused(db):
    query = CompiledQuery(lambda user_id: Membership.objects.filter(user_id=7), user_id=-1)
    with pytest.raises(ValueError, match="not among the compiled parameters"):
        query.compiled  # noqa: B018


def test_running_without_a_value_for_each_sample_is_refused(db):
    query = CompiledQuery(lambda user_id: Membership.objects.filter(user_id=user_id), user_id=-1)
    with pytest.raises(TypeError, match="values for \\['user_id'\\] expected, got \\[\\]"):
        query.rows()


def test_a_loaded_instance_holds_its_values_in_their_fields_whatever_their_order():
    booking = loaded(Booking, status="waitlisted", occurrence_id=4, id=3)
    assert (booking.pk, booking.status, booking.occurrence_id) == (3, "waitlisted", 4)
    assert booking.get_status_display() == "Waitlisted"
    assert {"patient_id", "booked_at"} <= booking.get_deferred_fields()


def test_a_loaded_instance_refuses_a_name_that_is_not_a_column():
    with pytest.raises(ValueError, match="not columns of Booking: \\['occurrence'\\]"):
        loaded(Booking, id=3, occurrence=4)


BOOKING_WITH_CLASS = [(Booking, "", ["id", "status"]), (Occurrence, "occurrence__", ["id", "name"])]


def test_a_row_of_parts_is_read_with_each_part_s_paths_and_loaded_as_one_instance_per_part():
    assert paths_of(BOOKING_WITH_CLASS) == ["id", "status", "occurrence__id", "occurrence__name"]
    booking, occurrence = loaded_row((3, "booked", 4, "Cardio"), BOOKING_WITH_CLASS)
    assert (booking.pk, booking.status, occurrence.pk, occurrence.name) == (3, "booked", 4, "Cardio")


def test_a_part_whose_id_is_null_is_none():
    booking, occurrence = loaded_row((3, "booked", None, None), BOOKING_WITH_CLASS)
    assert booking.pk == 3
    assert occurrence is None


def test_rows_loaded_with_one_dict_share_the_instance_of_a_part_they_both_name():
    made = {}
    first_booking, first_class = loaded_row((3, "booked", 4, "Cardio"), BOOKING_WITH_CLASS, made)
    second_booking, second_class = loaded_row((5, "booked", 4, "Cardio"), BOOKING_WITH_CLASS, made)
    assert second_class is first_class
    assert (first_booking.pk, second_booking.pk) == (3, 5)


def test_parts_of_one_row_with_the_same_id_are_not_shared():
    booking, occurrence = loaded_row((4, "booked", 4, "Cardio"), BOOKING_WITH_CLASS, {})
    assert (type(booking), type(occurrence)) == (Booking, Occurrence)


def test_parts_must_begin_with_their_id():
    with pytest.raises(ValueError, match="the columns of Clinic must begin with its id"):
        paths_of([(Clinic, "", ["name", "id"])])
