"""No patient data outside the database: not in the logs, not in the emails.

Distinctive patients are taken through each role's main paths in a real browser, with every logger
at DEBUG and a real Celery worker sending the emails. Every log line (rendered by the production JSON
formatter), everything printed, and every email sent is then searched for their names, dates of
birth, MRNs, MBIs, phones, emails and addresses.
"""

import datetime
import logging
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import pytest
from django.conf import settings
from django.core import mail
from django.utils.module_loading import import_string
from playwright.sync_api import Page, expect

from clinic import services
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_patient, make_program, make_provider, make_referral

pytestmark = [pytest.mark.browser, BROWSER_DB]

VALID_NPI = "1245319599"

# Seeded in clinic alpha: Quillon is searched, opened and edited; Marisol's referral is accepted.
QUILLON = {
    "mrn": "ZQX-90417", "first_name": "Quillon", "last_name": "Zaphyrine", "date_of_birth": "1931-07-19",
    "mbi": "1EG4TE5MK72", "phone": "555-014-7733", "email": "quillon.zaphyrine@example.net",
    "address_line1": "4417 Vexmoor Lane", "city": "Ossipee Hollow", "postal_code": "03864",
}  # fmt: skip
MARISOL = {
    "mrn": "ZQX-55281", "first_name": "Marisol", "last_name": "Threnbuckle", "date_of_birth": "1944-11-02",
    "mbi": "8KR7YU3HJ19", "phone": "555-016-2290", "email": "m.threnbuckle@example.org",
    "address_line1": "82 Quorrington Row",
}  # fmt: skip
# Another clinic's patient: opening her chart from alpha is the error path.
WENDELINE = {
    "mrn": "YRW-31608", "first_name": "Wendeline", "last_name": "Yarrowcroft", "date_of_birth": "1928-02-29",
    "mbi": "3AC5DF6GH28", "phone": "555-019-4406",
}  # fmt: skip
# Typed: Osric by the physician in the portal and by an API client, Quillon's new phone and address by staff.
OSRIC = {"mrn": "ZQX-77001", "first_name": "Osric", "last_name": "Pemberthwaite", "date_of_birth": "1939-04-11"}
QUILLON_NEW = {"phone": "555-014-9921", "address_line1": "9 Glimmerquay Court"}


def forbidden_values() -> list[str]:
    """Every distinctive value, with dates also as MM/DD/YYYY and MBIs with dashes, each also as it
    would appear URL-encoded in a logged address."""
    values = set()
    for person in [QUILLON, MARISOL, WENDELINE, OSRIC, QUILLON_NEW]:
        for key, value in person.items():
            values.add(value)
            if key == "date_of_birth":
                values.add(datetime.date.fromisoformat(value).strftime("%m/%d/%Y"))
            if key == "mbi":
                values.add(f"{value[:4]}-{value[4:7]}-{value[7:]}")
    values.discard(QUILLON["postal_code"])  # five digits also occur in ports, durations, ids
    return sorted(values | {quote(value) for value in values} | {quote_plus(value) for value in values})


def leaks(texts: list[str]) -> list[tuple[str, str]]:
    """(value, line) for every forbidden value found in a line of the texts, ignoring case."""
    values = forbidden_values()
    lines = [line for text in texts for line in text.splitlines()]
    return [(value, line) for line in lines for value in values if value.lower() in line.lower()]


def production_formatter() -> logging.Formatter:
    """The JSON formatter of settings.LOGGING, so what is searched is what production would write."""
    config = dict(settings.LOGGING["formatters"]["json"])
    return import_string(config.pop("()"))(**config)


class LineCollector(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(production_formatter())
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines():
    """Every record from every logger at DEBUG, from every thread (live server, Celery worker), as
    rendered lines. Loggers' own filters still run, as in production (django.request's path filter)."""
    collector = LineCollector()
    existing = [x for x in logging.Logger.manager.loggerDict.values() if isinstance(x, logging.Logger)]
    loggers = [logging.getLogger(), *existing]  # loggers made later inherit the root's level
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is logging.getLogger() or not logger.propagate:
            logger.addHandler(collector)  # celery.task, for one, does not reach the root
    yield collector.lines
    for logger, level, disabled in saved:
        logger.setLevel(level)
        logger.disabled = disabled
        logger.removeHandler(collector)


@dataclass
class Walk:
    """What the walk left outside the database."""

    log_lines: list[str]
    printed: str
    emails: list[mail.EmailMessage]


def clinic_nav(page: Page):
    return page.get_by_role("navigation", name="Clinic")


def search(page: Page, text: str, expected_link: str) -> None:
    with page.expect_response(lambda response: "/patients/?" in response.url):  # htmx, as the user types
        page.get_by_role("searchbox", name="Search").fill(text)
    expect(page.locator("#results").get_by_role("link", name=expected_link)).to_be_visible()
    expect(page.locator("#results").get_by_role("row")).to_have_count(2)  # the header and one patient


def wait_for_emails(count: int, timeout: float = 10) -> list:
    deadline = time.monotonic() + timeout
    while len(mail.outbox) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return list(mail.outbox)


@pytest.fixture
def walk(new_page, celery_worker, log_lines, capfd) -> Walk:
    """Each role's main paths, through the browser and the API, with the seeded patients."""
    alpha, bravo = make_clinic("alpha"), make_clinic("bravo")
    admin, physiologist = make_member(alpha, "admin"), make_member(alpha, "physiologist")
    physician = make_member(alpha, "physician")
    provider = make_provider(alpha, membership=physician, npi=VALID_NPI)
    program = make_program(alpha, "post_rehab", name="Post-rehab conditioning")
    quillon = make_patient(alpha, **QUILLON)
    marisol = make_patient(alpha, **MARISOL)
    wendeline = make_patient(bravo, **WENDELINE)
    referral = make_referral(alpha, marisol, provider=provider, program=program, cleared_for_exercise=True)
    _, token = services.api_token_create(membership=admin, name="EHR interface")

    # The physiologist finds Quillon by name, MRN and date of birth, opens and edits the chart.
    staff = new_page()
    sign_in(staff, physiologist.user.email)
    clinic_nav(staff).get_by_role("link", name="Patients").click()
    staff.wait_for_url(re.compile(r"/c/alpha/patients/$"))
    for text in [QUILLON["last_name"], QUILLON["mrn"], "07/19/1931"]:
        search(staff, text, "Zaphyrine, Quillon")
    staff.locator("#results").get_by_role("link", name="Zaphyrine, Quillon").click()
    staff.wait_for_url(re.compile(rf"/c/alpha/patients/{quillon.pk}/$"))
    staff.get_by_role("link", name="Edit").click()
    staff.get_by_label("Medicare MBI").fill("12345")  # invalid: the form comes back with errors
    staff.get_by_role("button", name="Save changes").click()
    expect(staff.get_by_role("alert")).to_have_text("Please correct the fields marked below. Nothing was saved.")
    staff.get_by_label("Medicare MBI").fill(QUILLON["mbi"])
    staff.get_by_label("Phone", exact=True).fill(QUILLON_NEW["phone"])
    staff.get_by_label("Address", exact=True).fill(QUILLON_NEW["address_line1"])
    staff.get_by_role("button", name="Save changes").click()
    expect(staff.get_by_text("Changes saved.")).to_be_visible()

    # Another clinic's patient is not found, nor is a search in a clinic the physiologist is no member of.
    assert staff.goto(f"/c/alpha/patients/{wendeline.pk}/").status == 404
    assert staff.goto(f"/c/bravo/patients/?q={WENDELINE['last_name']}").status == 404

    # The physiologist accepts Marisol's referral; the worker emails the referring physician.
    staff.goto("/c/alpha/referrals/")
    staff.get_by_role("link", name="Threnbuckle, Marisol").click()
    staff.wait_for_url(re.compile(rf"/c/alpha/referrals/{referral.pk}/$"))
    staff.get_by_label("Start date").fill((datetime.date.today() + datetime.timedelta(days=7)).isoformat())
    staff.get_by_role("button", name="Accept and enroll").click()
    expect(staff.get_by_text("Referral accepted and the patient enrolled.")).to_be_visible()

    # The physician sees the portal and refers a new patient.
    doctor = new_page()
    sign_in(doctor, physician.user.email)
    doctor.goto("/portal/")
    expect(doctor.get_by_role("row").filter(has_text="Threnbuckle, Marisol")).to_have_count(1)
    doctor.get_by_role("link", name="Refer to Alpha Clinic").click()
    doctor.get_by_label("Program").select_option(label="Post-rehab conditioning")
    doctor.get_by_label("First name", exact=True).fill(OSRIC["first_name"])
    doctor.get_by_label("Last name", exact=True).fill(OSRIC["last_name"])
    doctor.get_by_label("Date of birth").fill(OSRIC["date_of_birth"])
    doctor.get_by_label("Cleared for exercise").select_option(label="Yes")
    doctor.get_by_role("button", name="Send referral").click()
    expect(doctor.get_by_text("Referral sent to Alpha Clinic.")).to_be_visible()

    # The admin exports the patient list and reads the audit trail of Quillon's chart.
    office = new_page()
    sign_in(office, admin.user.email)
    office.goto("/c/alpha/patients/")
    with office.expect_download() as download:
        office.get_by_role("link", name="Export CSV").click()
    assert download.value.failure() is None
    office.goto(f"/c/alpha/patients/{quillon.pk}/")
    office.get_by_role("link", name="Access history").click()
    expect(office.get_by_role("heading", level=1)).to_have_text("Audit trail: Zaphyrine, Quillon")
    with office.expect_download() as download:
        office.get_by_role("link", name="Export CSV").click()
    assert download.value.failure() is None

    # An EHR interface reads and searches patients with the admin's token, and makes two mistakes.
    api = new_page().request
    headers = {"Authorization": f"Bearer {token}"}
    patients = "/api/v1/clinics/alpha/patients/"
    for query in [{}, {"q": QUILLON["last_name"]}, {"q": QUILLON["mrn"]}, {"date_of_birth": QUILLON["date_of_birth"]}]:
        assert api.get(patients, headers=headers, params=query).ok
    assert api.get(f"{patients}{quillon.pk}/", headers=headers).ok
    assert api.get(f"{patients}{wendeline.pk}/", headers=headers).status == 404
    invalid = {**OSRIC, "mbi": "not-an-mbi"}
    assert api.post(patients, headers=headers, data=invalid).status == 400

    emails = wait_for_emails(1)
    return Walk(log_lines=log_lines, printed="".join(capfd.readouterr()), emails=emails)


def test_logs_and_printed_output_carry_no_patient_data(walk):
    assert any('"logger": "medfit.request"' in line for line in walk.log_lines)  # the search is not vacuous
    assert leaks(walk.log_lines) == []
    assert leaks([walk.printed]) == []


def test_emails_carry_no_patient_data(walk):
    assert len(walk.emails) >= 1
    # The body as written, and the message as sent (headers, and the body however it was encoded).
    texts = [text for message in walk.emails for text in [message.subject, message.body, str(message.message())]]
    assert leaks(texts) == []
