"""The referral forms (staff and portal): the chosen program's own clinical sections, without JavaScript
too; a chosen file named again after a failed submit; a referring provider added from the form."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clinic.models import Program, ProgramType
from referrals import services
from referrals.eligibility import UNKNOWN, check_eligibility
from referrals.forms import ReferralForm
from referrals.models import Referral, ReferringProvider
from tests.conftest import make_program, make_provider

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
VALID_NPI = "1245319599"
CARDIAC_ONLY = {"qualifying_event_date", "lvef_percent", "nyha_class", "hf_optimal_therapy_weeks",
                "hf_recent_cv_event", "hf_planned_cv_procedure"}  # fmt: skip
PULMONARY_ONLY = {"gold_stage", "fev1_fvc_ratio", "fev1_percent_predicted", "covid_confirmed_or_suspected",
                  "covid_symptom_weeks"}  # fmt: skip
BLOOD_TEST_AND_BMI = {"height", "weight", "bmi", "a1c_percent", "fasting_glucose", "ogtt_2h", "lab_test_date"}
CDC_DPP_ONLY = {"risk_test_score", "gestational_diabetes_history", "pregnant"}
MEDICARE_DPP_ONLY = {"medicare_part_b", "esrd", "prior_mdpp", "lab_self_reported"}
DIABETES_ONLY = BLOOD_TEST_AND_BMI | CDC_DPP_ONLY | MEDICARE_DPP_ONLY


@pytest.fixture
def staff(team_a):
    return team_a["physiologist"]


@pytest.fixture
def cardiac(clinic_a):
    return make_program(clinic_a, "cr", name="Cardiac Rehab")


@pytest.fixture
def dpp(clinic_a):
    return make_program(clinic_a, "dpp", name="Diabetes Prevention")


@pytest.fixture
def provider(clinic_a):
    return make_provider(clinic_a)


def new_url(clinic, program=None):
    url = reverse("referral_create", args=[clinic.slug])
    return f"{url}?program={program.pk}" if program else url


def form_data(program, provider=None, **changes):
    """What the staff form posts for a referral that can be saved."""
    data = {
        "program": program.pk,
        "referring_provider": provider.pk if provider else "",
        "urgency": "routine",
        "referral_date": datetime.date.today().isoformat(),
        "patient_first_name": "Grace",
        "patient_last_name": "Hopper",
        "patient_date_of_birth": "1946-12-09",
        "patient_sex": "F",
        "cleared_for_exercise": "true",
        **changes,
    }
    return {key: value for key, value in data.items() if value is not None}


def fields_of(response) -> set[str]:
    return set(response.context["form"].fields)


# --- The chosen program's own sections ----------------------------------------------------------


def test_the_form_without_a_program_has_no_program_sections(staff):
    response = staff.client.get(new_url(staff.clinic))
    assert not fields_of(response) & (CARDIAC_ONLY | PULMONARY_ONLY | DIABETES_ONLY | {"qualifying_condition"})
    assert "Choose the program: the clinical fields it needs appear here." in response.content.decode()


def test_a_cardiac_program_shows_event_lvef_nyha_and_stability_only(staff, cardiac):
    fields = fields_of(staff.client.get(new_url(staff.clinic, cardiac)))
    assert CARDIAC_ONLY | {"qualifying_condition"} <= fields
    assert not fields & (PULMONARY_ONLY | DIABETES_ONLY)


def test_a_pulmonary_program_shows_spirometry_gold_and_covid_only(staff):
    pulmonary = make_program(staff.clinic, "pr", name="Pulmonary Rehab")
    fields = fields_of(staff.client.get(new_url(staff.clinic, pulmonary)))
    assert PULMONARY_ONLY | {"qualifying_condition"} <= fields
    assert not fields & (CARDIAC_ONLY | DIABETES_ONLY)


def test_a_cdc_dpp_program_shows_labs_bmi_and_risk_test_only(staff, dpp):
    fields = fields_of(staff.client.get(new_url(staff.clinic, dpp)))
    assert fields >= BLOOD_TEST_AND_BMI | CDC_DPP_ONLY
    assert not fields & (CARDIAC_ONLY | PULMONARY_ONLY | MEDICARE_DPP_ONLY | {"qualifying_condition"})


def test_a_medicare_dpp_program_shows_labs_bmi_and_medicare_facts_only(staff):
    program = make_program(staff.clinic, "mdpp", name="Medicare DPP")
    fields = fields_of(staff.client.get(new_url(staff.clinic, program)))
    assert fields >= BLOOD_TEST_AND_BMI | MEDICARE_DPP_ONLY
    assert not fields & (CARDIAC_ONLY | PULMONARY_ONLY | CDC_DPP_ONLY | {"qualifying_condition"})


def test_a_program_without_payer_rules_shows_clearance_but_no_clinical_section(staff):
    program = make_program(staff.clinic, "post_rehab", name="Post-rehab conditioning")
    fields = fields_of(staff.client.get(new_url(staff.clinic, program)))
    assert "cleared_for_exercise" in fields
    assert not fields & (CARDIAC_ONLY | PULMONARY_ONLY | DIABETES_ONLY | {"qualifying_condition"})


def test_the_chosen_program_is_selected_on_the_form(staff, cardiac):
    page = staff.client.get(new_url(staff.clinic, cardiac)).content.decode()
    assert f'<option value="{cardiac.pk}" selected>Cardiac Rehab</option>' in page


def test_values_posted_for_another_program_types_fields_are_not_saved(staff, cardiac, provider):
    data = form_data(cardiac, provider, qualifying_condition="cabg", lvef_percent="40", a1c_percent="6.1",
                     gold_stage="3", height="65", risk_test_score="7")  # fmt: skip
    staff.client.post(new_url(staff.clinic), data)
    referral = Referral.objects.get()
    assert referral.lvef_percent == 40
    assert (referral.a1c_percent, referral.gold_stage, referral.height_cm, referral.risk_test_score) == (None,) * 4


def test_editing_a_referral_leaves_another_program_types_stored_facts_alone(staff, cardiac, provider):
    referral = services.referral_create(
        clinic=staff.clinic, actor=None, data={
            "program": cardiac, "referring_provider": provider, "patient_first_name": "Grace",
            "patient_last_name": "Hopper", "patient_date_of_birth": datetime.date(1946, 12, 9),
            "qualifying_condition": "cabg", "a1c_percent": 6, "height_cm": 170,
        },
    )  # fmt: skip
    staff.client.post(
        reverse("referral_edit", args=[staff.clinic.slug, referral.pk]),
        form_data(cardiac, provider, qualifying_condition="cabg", a1c_percent="9.9", height=""),
    )
    referral.refresh_from_db()
    assert (referral.a1c_percent, referral.height_cm) == (6, 170)


# --- The qualifying condition ---------------------------------------------------------------------


@pytest.mark.parametrize("program_type", ProgramType.values)
def test_the_qualifying_condition_is_required_exactly_where_eligibility_depends_on_it(clinic_a, program_type):
    without_condition = Referral(
        program=Program(program_type=program_type), patient_date_of_birth=datetime.date(1960, 5, 17)
    )
    missing = [o for o in check_eligibility(without_condition).outcomes if o.rule == "Qualifying condition"]
    program = make_program(clinic_a, program_type)
    form = ReferralForm(clinic=clinic_a, initial={"program": program.pk})
    required = "qualifying_condition" in form.fields and form.fields["qualifying_condition"].required
    assert required == any(outcome.status == UNKNOWN for outcome in missing)


def test_the_required_condition_is_marked_on_the_page(staff, cardiac):
    page = staff.client.get(new_url(staff.clinic, cardiac)).content.decode()
    assert '<label for="id_qualifying_condition" class="required">' in page
    assert '<select name="qualifying_condition" required' in page


def test_a_cardiac_referral_without_its_qualifying_condition_is_refused(staff, cardiac, provider):
    response = staff.client.post(new_url(staff.clinic), form_data(cardiac, provider, _sections="cardiac"))
    assert "qualifying_condition" in response.context["form"].errors
    assert not Referral.objects.exists()


def test_the_pulmonary_form_offers_the_pulmonary_conditions(staff):
    pulmonary = make_program(staff.clinic, "pr", name="Pulmonary Rehab")
    form = staff.client.get(new_url(staff.clinic, pulmonary)).context["form"]
    assert [value for value, _ in form.fields["qualifying_condition"].choices] == ["", "copd", "post_covid", "other"]


# --- Changing the program, with and without JavaScript ------------------------------------------


def test_without_javascript_the_show_fields_button_brings_the_programs_sections_and_saves_nothing(staff, dpp, provider):
    data = form_data(dpp, provider, _sections="", _refresh="program", patient_last_name="")
    response = staff.client.post(new_url(staff.clinic), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert fields_of(response) >= BLOOD_TEST_AND_BMI | CDC_DPP_ONLY
    assert "The fields for Diabetes Prevention are shown. Nothing is saved yet" in page
    assert 'value="Grace"' in page  # what was typed stays
    assert "Please correct the fields marked below" not in page and "This field is required" not in page
    assert not Referral.objects.exists()


def test_a_save_posted_with_another_programs_sections_on_screen_is_shown_again_not_saved(staff, cardiac, provider):
    # The program was changed to cardiac rehab without JavaScript: its sections were never on screen.
    response = staff.client.post(new_url(staff.clinic), form_data(cardiac, provider, _sections="dpp"))
    assert fields_of(response) >= CARDIAC_ONLY
    assert "The fields for Cardiac Rehab are shown." in response.content.decode()
    assert not Referral.objects.exists()


def test_a_save_posted_with_the_programs_sections_on_screen_is_saved(staff, dpp, provider):
    response = staff.client.post(new_url(staff.clinic), form_data(dpp, provider, _sections="dpp"))
    assert response.status_code == 302
    assert Referral.objects.count() == 1


def test_switching_between_cdc_and_medicare_dpp_also_brings_the_other_sections(staff, provider):
    medicare = make_program(staff.clinic, "mdpp", name="Medicare DPP")
    response = staff.client.post(new_url(staff.clinic), form_data(medicare, provider, _sections="dpp"))
    assert fields_of(response) >= MEDICARE_DPP_ONLY
    assert not Referral.objects.exists()


def test_values_of_a_section_switched_away_from_are_kept_for_switching_back(staff, cardiac, dpp, provider):
    typed = form_data(dpp, provider, _refresh="program", lvef_percent="30", qualifying_condition="heart_failure")
    page = staff.client.post(new_url(staff.clinic), typed).content.decode()
    assert '<input type="hidden" name="lvef_percent" value="30">' in page
    back = staff.client.post(new_url(staff.clinic), {**typed, "program": cardiac.pk})
    assert back.context["form"]["lvef_percent"].value() == "30"


def test_with_htmx_a_program_change_answers_with_the_sections_alone(staff, cardiac, provider):
    response = staff.client.post(
        new_url(staff.clinic), form_data(cardiac, provider, _refresh="program"), headers={"HX-Request": "true"}
    )
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="program-sections">')
    assert 'name="_sections" value="cardiac"' in page and 'name="lvef_percent"' in page
    assert "<html" not in page
    assert not Referral.objects.exists()


def test_the_edit_form_shows_the_referrals_program_sections(staff, dpp, provider):
    referral = services.referral_create(
        clinic=staff.clinic, actor=None, data={
            "program": dpp, "referring_provider": provider, "patient_first_name": "Grace",
            "patient_last_name": "Hopper", "patient_date_of_birth": datetime.date(1946, 12, 9), "bmi": 27,
        },
    )  # fmt: skip
    form = staff.client.get(reverse("referral_edit", args=[staff.clinic.slug, referral.pk])).context["form"]
    assert set(form.fields) >= BLOOD_TEST_AND_BMI | CDC_DPP_ONLY
    assert form["bmi"].value() == 27


def test_the_portal_form_shows_the_chosen_programs_sections(team_a, cardiac):
    physician = team_a["physician"]
    response = physician.client.post(
        reverse("portal_refer", args=[physician.clinic.slug]),
        {"program": cardiac.pk, "_refresh": "program", "patient_first_name": "Alan"},
    )
    assert fields_of(response) >= CARDIAC_ONLY
    assert 'value="Alan"' in response.content.decode()
    assert not Referral.objects.exists()


# --- A chosen file after a failed submit -------------------------------------------------------


def test_a_failed_submit_names_the_chosen_file_and_asks_for_it_again(staff, dpp, provider):
    upload = SimpleUploadedFile("fax-from-dr-park.pdf", PDF, content_type="application/pdf")
    data = form_data(dpp, provider, patient_last_name="", attachment=upload)
    page = staff.client.post(new_url(staff.clinic), data).content.decode()
    assert "You chose <strong>fax-from-dr-park.pdf</strong>; please attach it again." in page
    assert '<input type="hidden" name="attachment_chosen" value="fax-from-dr-park.pdf">' in page


def test_the_request_to_attach_again_stays_until_a_file_is_chosen(staff, dpp, provider):
    data = form_data(dpp, provider, patient_last_name="", attachment_chosen="fax-from-dr-park.pdf")
    page = staff.client.post(new_url(staff.clinic), data).content.decode()
    assert "You chose <strong>fax-from-dr-park.pdf</strong>; please attach it again." in page


def test_a_refused_file_is_explained_not_asked_for_again(staff, dpp, provider):
    upload = SimpleUploadedFile("notes.txt", b"plain text", content_type="text/plain")
    page = staff.client.post(new_url(staff.clinic), form_data(dpp, provider, attachment=upload)).content.decode()
    assert "Attach a PDF, PNG or JPEG file." in page
    assert "please attach it again" not in page


def test_the_file_chosen_again_is_saved_with_the_referral(staff, dpp, provider, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("fax-from-dr-park.pdf", PDF, content_type="application/pdf")
    data = form_data(dpp, provider, attachment_chosen="fax-from-dr-park.pdf", attachment=upload)
    staff.client.post(new_url(staff.clinic), data)
    assert Referral.objects.get().attachments.get().original_name == "fax-from-dr-park.pdf"


# --- A referring provider added from the form --------------------------------------------------


def new_provider(**changes):
    fields = {"first_name": "Ines", "last_name": "Ortega", "credentials": "DO", "npi": VALID_NPI,
              "practice_name": "Riverside Cardiology", "phone": "555-0101", "fax": "555-0102",
              "email": "ortega@riverside.test", **changes}  # fmt: skip
    return {f"new_provider-{name}": value for name, value in fields.items()}


def test_a_provider_added_on_the_form_is_saved_with_the_referral(staff, dpp):
    response = staff.client.post(new_url(staff.clinic), {**form_data(dpp), **new_provider()})
    referral = Referral.objects.get()
    assert response.status_code == 302
    provider = referral.referring_provider
    assert (provider.clinic, str(provider), provider.npi, provider.practice_name, provider.fax) == (
        staff.clinic, "Ines Ortega, DO", VALID_NPI, "Riverside Cardiology", "555-0102",
    )  # fmt: skip


def test_a_refused_referral_adds_no_provider(staff, dpp):
    response = staff.client.post(new_url(staff.clinic), {**form_data(dpp, patient_last_name=""), **new_provider()})
    assert "patient_last_name" in response.context["form"].errors
    assert not ReferringProvider.objects.exists()


def test_a_referral_the_service_refuses_rolls_back_the_provider_it_added(clinic_a, dpp):
    data = {"program": dpp, "patient_first_name": "Grace", "patient_last_name": "Hopper",
            "patient_date_of_birth": datetime.date(1946, 12, 9), "diagnosis_codes": ["HEART"]}  # fmt: skip
    with pytest.raises(ValidationError):
        services.referral_create(
            clinic=clinic_a, actor=None, data=data, new_provider={"first_name": "Ines", "last_name": "Ortega"}
        )
    assert not ReferringProvider.objects.exists()


def test_the_new_providers_npi_check_digit_is_checked(staff, dpp):
    response = staff.client.post(new_url(staff.clinic), {**form_data(dpp), **new_provider(npi="1245319598")})
    form = response.context["form"]
    assert "valid 10-digit NPI" in str(form.new_provider.errors["npi"])
    assert "referring_provider" in form.errors
    assert not Referral.objects.exists() and not ReferringProvider.objects.exists()


def test_a_new_provider_with_an_npi_the_clinic_knows_is_refused_beside_the_npi(staff, dpp, provider):
    make_provider(staff.clinic, first_name="Other", npi=VALID_NPI)
    response = staff.client.post(new_url(staff.clinic), {**form_data(dpp), **new_provider()})
    assert "already belongs to another provider" in str(response.context["form"].new_provider.errors["npi"])
    assert not Referral.objects.exists()
    assert ReferringProvider.objects.count() == 2


def test_a_new_provider_needs_a_name(staff, dpp):
    response = staff.client.post(new_url(staff.clinic), {**form_data(dpp), **new_provider(first_name="")})
    assert "first_name" in response.context["form"].new_provider.errors
    assert not Referral.objects.exists()


def test_a_provider_must_be_chosen_or_added(staff, dpp):
    response = staff.client.post(new_url(staff.clinic), form_data(dpp))
    assert response.context["form"].errors["referring_provider"] == [
        "Choose the referring provider, or add a new one below."
    ]


def test_choosing_a_provider_and_adding_another_is_refused(staff, dpp, provider):
    response = staff.client.post(new_url(staff.clinic), {**form_data(dpp, provider), **new_provider()})
    assert "not both" in str(response.context["form"].errors["referring_provider"])
    assert not Referral.objects.exists() and ReferringProvider.objects.count() == 1


def test_provider_options_carry_name_npi_and_practice_for_the_search(staff, clinic_b):
    make_provider(staff.clinic, first_name="Ines", last_name="Ortega", npi=VALID_NPI, practice_name="Riverside Heart")
    make_provider(clinic_b, first_name="Bruno", last_name="Bravo")
    page = staff.client.get(new_url(staff.clinic)).content.decode()
    assert f'data-search="ines ortega md {VALID_NPI} riverside heart"' in page
    assert ">Ines Ortega, MD · Riverside Heart</option>" in page
    assert "Bravo" not in page


def test_the_portal_form_offers_no_new_provider(team_a):
    physician = team_a["physician"]
    response = physician.client.get(reverse("portal_refer", args=[physician.clinic.slug]))
    assert response.context["form"].new_provider is None
    assert "Add a new referring provider" not in response.content.decode()
