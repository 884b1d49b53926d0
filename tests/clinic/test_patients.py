"""Patients: forms, validation, search, deactivation, CSV export."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic import selectors
from clinic.csvexport import neutralize
from clinic.models import Patient
from tests.conftest import make_patient, searched_planned_for_the_term

VALID = {
    "mrn": "NEW-1",
    "first_name": "Grace",
    "last_name": "Hopper",
    "date_of_birth": "1946-12-09",
    "sex": "F",
    "preferred_language": "English",
    "mbi": "1EG4-TE5-MK73",
}


def create(persona, **changes):
    return persona.client.post(reverse("patient_create", args=[persona.clinic.slug]), {**VALID, **changes})


def test_physiologist_creates_a_patient(team_a):
    response = create(team_a["physiologist"])
    patient = Patient.objects.get(clinic=team_a["physiologist"].clinic, mrn="NEW-1")
    assert response.url == reverse("patient_detail", args=[patient.clinic.slug, patient.pk])


def test_mbi_is_stored_without_dashes(team_a):
    create(team_a["physiologist"])
    assert Patient.objects.get(mrn="NEW-1").mbi == "1EG4TE5MK73"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date_of_birth", (datetime.date.today() + datetime.timedelta(days=1)).isoformat(), "cannot be in the future"),
        ("mbi", "1EG4-TE5-MK7", "valid Medicare Beneficiary Identifier"),
        ("mbi", "1SG4-TE5-MK73", "valid Medicare Beneficiary Identifier"),
        ("email", "not-an-email", "valid email"),
        ("last_name", "", "required"),
    ],
)
def test_bad_input_shows_a_field_error_and_saves_nothing(team_a, field, value, message):
    response = create(team_a["physiologist"], **{field: value})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Patient.objects.exists()


def test_duplicate_mrn_in_the_same_clinic_is_refused(team_a):
    make_patient(team_a["admin"].clinic, "NEW-1")
    response = create(team_a["physiologist"])
    assert "already belongs to another patient" in response.context["form"].errors["mrn"][0]
    assert Patient.objects.count() == 1


def test_an_mrn_saved_by_someone_else_meanwhile_gets_the_same_message(team_a, monkeypatch):
    """The race `make faults` found: another save of the MRN lands between the duplicate check and
    the model's validation."""
    validate = Patient.full_clean

    def someone_else_saves_first(patient, *args, **kwargs):
        make_patient(patient.clinic, patient.mrn)
        return validate(patient, *args, **kwargs)

    monkeypatch.setattr(Patient, "full_clean", someone_else_saves_first)
    response = create(team_a["physiologist"])
    assert "already belongs to another patient" in response.context["form"].errors["mrn"][0]


def test_the_same_mrn_may_exist_in_another_clinic(team_a, clinic_b):
    make_patient(clinic_b, "NEW-1")
    create(team_a["physiologist"])
    assert Patient.objects.filter(mrn="NEW-1").count() == 2


def test_chart_reads_the_patient_with_every_column_as_stored(team_a, patient_a):
    persona = team_a["physiologist"]
    response = persona.client.get(reverse("patient_detail", args=[persona.clinic.slug, patient_a.pk]))
    shown = response.context["patient"]
    patient_a.refresh_from_db()
    columns = [field.attname for field in Patient._meta.concrete_fields]
    assert shown.get_deferred_fields() == set()
    assert [getattr(shown, name) for name in columns] == [getattr(patient_a, name) for name in columns]


def test_chart_of_an_id_beyond_any_patient_is_not_found(team_a):
    persona = team_a["physiologist"]
    assert persona.client.get(reverse("patient_detail", args=[persona.clinic.slug, 2**63])).status_code == 404


def test_editing_keeps_the_patient_in_its_clinic(team_a, patient_a):
    persona = team_a["physiologist"]
    url = reverse("patient_edit", args=[persona.clinic.slug, patient_a.pk])
    persona.client.post(url, {**VALID, "mrn": patient_a.mrn, "phone": "555-0100"})
    patient_a.refresh_from_db()
    assert (patient_a.phone, patient_a.clinic_id) == ("555-0100", persona.clinic.pk)


def test_admin_deactivates_a_patient_instead_of_deleting(team_a, patient_a):
    admin = team_a["admin"]
    admin.client.post(reverse("patient_set_status", args=[admin.clinic.slug, patient_a.pk]), {"status": "inactive"})
    patient_a.refresh_from_db()
    assert patient_a.status == Patient.Status.INACTIVE


def test_name_with_markup_is_stored_as_typed_and_shown_escaped(team_a):
    persona = team_a["physiologist"]
    create(persona, first_name="<script>alert(1)</script>")
    patient = Patient.objects.get(mrn="NEW-1")
    page = persona.client.get(reverse("patient_detail", args=[persona.clinic.slug, patient.pk])).content.decode()
    assert patient.first_name == "<script>alert(1)</script>"
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- Search -------------------------------------------------------------------------------------


@pytest.fixture
def three_patients(clinic_a):
    return [
        make_patient(clinic_a, "R-1", first_name="Mary", last_name="Smith", date_of_birth="1950-01-31"),
        make_patient(clinic_a, "R-2", first_name="John", last_name="Smithers", date_of_birth="1960-05-05"),
        make_patient(clinic_a, "X-9", first_name="Ann", last_name="Jones", date_of_birth="1970-07-07"),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("smi", ["R-1", "R-2"]),
        ("Smith, M", ["R-1"]),
        ("john smith", ["R-2"]),
        ("x-9", ["X-9"]),
        ("01/31/1950", ["R-1"]),
        ("1960-05-05", ["R-2"]),
        ("nobody", []),
    ],
)
def test_search_finds_patients_by_name_mrn_or_date_of_birth(team_a, three_patients, query, expected):
    found = selectors.patient_search(membership=team_a["admin"].membership, query=query)
    assert sorted(p.mrn for p in found) == expected


def test_list_is_paginated(team_a, clinic_a):
    Patient.objects.bulk_create(
        Patient(clinic=clinic_a, mrn=f"P{i:03}", first_name="A", last_name=f"L{i:03}", date_of_birth="1950-01-01")
        for i in range(30)
    )
    response = team_a["admin"].client.get(reverse("patient_list", args=[clinic_a.slug]), {"page": 2})
    assert [p.mrn for p in response.context["page"]] == [f"P{i:03}" for i in range(25, 30)]


def add_patients(clinic, count):
    Patient.objects.bulk_create(
        Patient(clinic=clinic, mrn=f"P{i:03}", first_name="A", last_name=f"L{i:03}", date_of_birth="1950-01-01")
        for i in range(count)
    )


def test_long_list_says_more_than_the_count_cap_instead_of_counting_every_patient(team_a, clinic_a, monkeypatch):
    monkeypatch.setattr("clinic.paging.COUNT_CAP", 30)
    add_patients(clinic_a, 60)
    response = team_a["admin"].client.get(reverse("patient_list", args=[clinic_a.slug]))
    text = response.content.decode()
    assert "Page 1 · more than 30 in all" in text
    assert "page=2" in text  # the next page's link


def test_page_past_the_count_cap_shows_its_patients_and_the_exact_count(team_a, clinic_a, monkeypatch):
    monkeypatch.setattr("clinic.paging.COUNT_CAP", 30)
    add_patients(clinic_a, 60)
    response = team_a["admin"].client.get(reverse("patient_list", args=[clinic_a.slug]), {"page": 3})
    assert [p.mrn for p in response.context["page"]] == [f"P{i:03}" for i in range(50, 60)]
    assert "Page 3 of 3 · 60 in all" in response.content.decode()


def test_search_under_the_count_cap_shows_the_exact_count(team_a, clinic_a, monkeypatch):
    monkeypatch.setattr("clinic.paging.COUNT_CAP", 30)
    add_patients(clinic_a, 60)
    response = team_a["admin"].client.get(reverse("patient_list", args=[clinic_a.slug]), {"q": "L01"})
    assert "Page 1 of 1" not in response.content.decode()
    assert "10 in all" in response.content.decode()


def test_search_counts_a_patient_who_matches_several_ways_once(team_a, clinic_a):
    make_patient(clinic_a, "JO-1", first_name="Jo", last_name="Jones")  # first name, last name and MRN
    make_patient(clinic_a, "R-2", first_name="Ann", last_name="Johnson")
    response = team_a["admin"].client.get(reverse("patient_list", args=[clinic_a.slug]), {"q": "jo"})
    assert "2 in all" in response.content.decode()


@pytest.mark.parametrize("query", ["smi", "Smith, M", "john smith", "x-9", "01/31/1950", "nobody", ""])
@pytest.mark.parametrize("status", ["", Patient.Status.ACTIVE, Patient.Status.INACTIVE])
def test_search_count_counts_what_the_search_finds(team_a, three_patients, query, status):
    Patient.objects.filter(mrn="R-2").update(status=Patient.Status.INACTIVE)
    membership = team_a["admin"].membership
    found = selectors.patient_search(membership=membership, query=query, status=status)
    counted = selectors.patient_search_to_count(membership=membership, query=query, status=status)
    assert counted.count() == len(found)


def plan_cache_mode() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('plan_cache_mode')")
        return cursor.fetchone()[0]


def test_a_search_is_planned_for_its_term(db):
    with selectors.planned_for_the_search_term("jo"):
        assert plan_cache_mode() == "force_custom_plan"


def test_other_queries_keep_postgresqls_choice_of_plan_after_a_search(transactional_db):
    # Outside a test's transaction, as in a request: the setting ends with the search's own transaction.
    with selectors.planned_for_the_search_term("jo"):
        pass
    assert plan_cache_mode() == "auto"


def test_the_list_without_a_search_keeps_postgresqls_choice_of_plan(db):
    with selectors.planned_for_the_search_term(""):
        assert plan_cache_mode() == "auto"


def test_the_list_reads_a_search_planned_for_its_term(team_a, clinic_a, three_patients):
    with CaptureQueriesContext(connection) as captured:
        team_a["admin"].client.get(reverse("patient_list", args=[clinic_a.slug]), {"q": "jo"})
    assert searched_planned_for_the_term(captured)


def test_the_export_reads_a_search_planned_for_its_term(team_a, clinic_a):
    make_patient(clinic_a, "R-1", last_name="Jones")
    with CaptureQueriesContext(connection) as captured:
        response = team_a["billing"].client.get(reverse("patient_export", args=[clinic_a.slug]), {"q": "jo"})
        b"".join(response.streaming_content)
    assert searched_planned_for_the_term(captured)


def test_list_page_query_count_does_not_grow_with_patients(team_a, clinic_a, django_assert_max_num_queries):
    Patient.objects.bulk_create(
        Patient(clinic=clinic_a, mrn=f"P{i:03}", first_name="A", last_name=f"L{i:03}", date_of_birth="1950-01-01")
        for i in range(60)
    )
    with django_assert_max_num_queries(14):  # three set and restore the row-level security scope
        team_a["admin"].client.get(reverse("patient_list", args=[clinic_a.slug]))


def test_list_rows_escape_what_was_typed_and_link_each_chart(team_a, clinic_a):
    markup = make_patient(clinic_a, mrn="<M&1>", last_name="<i>O'Hara", sex="F", primary_payer="A&B <Care>")
    plain = make_patient(clinic_a, mrn="P2", last_name="Zeta", first_name="Bo", date_of_birth="1960-12-31")
    for patient in (markup, plain):
        patient.refresh_from_db()  # the date of birth as a date, for `age`
    text = team_a["physiologist"].client.get(reverse("patient_list", args=[clinic_a.slug])).content.decode()
    url = reverse("patient_list", args=[clinic_a.slug])
    assert (
        f'<a href="{url}{markup.pk}/">&lt;i&gt;O&#x27;Hara, Ada</a></td><td class="nowrap">&lt;M&amp;1&gt;</td>'
        f'<td class="nowrap">03/04/1950</td><td class="nowrap">{markup.age}</td><td class="nowrap">Female</td>'
        '<td>A&amp;B &lt;Care&gt;</td><td><span class="badge active">Active</span></td>'
    ) in text
    assert (
        f'<a href="{url}{plain.pk}/">Zeta, Bo</a></td><td class="nowrap">P2</td><td class="nowrap">12/31/1960</td>'
        f'<td class="nowrap">{plain.age}</td><td class="nowrap">Not reported</td><td>—</td>'
    ) in text
    assert "<i>" not in text


def test_htmx_search_returns_only_the_results_fragment(team_a, three_patients):
    admin = team_a["admin"]
    response = admin.client.get(
        reverse("patient_list", args=[admin.clinic.slug]), {"q": "jones"}, HTTP_HX_REQUEST="true"
    )
    assert b"<html" not in response.content
    assert b"Jones" in response.content


# --- Export -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["=1+2", "+SUM(A1)", "-3", "@cmd", "\t=x"])
def test_csv_cells_that_look_like_formulas_are_neutralised(value):
    assert neutralize(value) == "'" + value


def test_ordinary_csv_cells_are_unchanged():
    assert neutralize("O'Brien") == "O'Brien"


def test_billing_exports_patients_as_csv(team_a, clinic_a):
    make_patient(clinic_a, "R-1", first_name="=HYPERLINK(1)", last_name="Smith")
    response = team_a["billing"].client.get(reverse("patient_export", args=[clinic_a.slug]))
    body = b"".join(response.streaming_content).decode()
    assert response["Content-Type"].startswith("text/csv")
    assert "'=HYPERLINK(1)" in body


def test_later_pages_keep_the_default_active_filter(team_a, clinic_a):
    Patient.objects.bulk_create(
        Patient(
            clinic=clinic_a,
            mrn=f"P{i:03}",
            first_name="A",
            last_name=f"L{i:03}",
            date_of_birth="1950-01-01",
            status=Patient.Status.INACTIVE if i % 2 else Patient.Status.ACTIVE,
        )  # fmt: skip
        for i in range(60)
    )
    response = team_a["admin"].client.get(reverse("patient_list", args=[clinic_a.slug]), {"page": 2})
    assert {p.status for p in response.context["page"]} == {Patient.Status.ACTIVE}


def test_all_statuses_can_be_listed(team_a, clinic_a, patient_a):
    make_patient(clinic_a, "OLD-1", status=Patient.Status.INACTIVE)
    response = team_a["admin"].client.get(reverse("patient_list", args=[clinic_a.slug]), {"status": ""})
    assert response.context["page"].paginator.count == 2
