"""FHIR referral intake: a FHIR R4 (R4B) Bundle holding a Patient and a ServiceRequest becomes a referral.

POST the Bundle as JSON to /api/v1/clinics/<clinic_slug>/fhir/referral-bundles/ with a personal API token
(`Authorization: Bearer <token>`). A minimal valid Bundle:

```json
{
  "resourceType": "Bundle",
  "type": "collection",
  "entry": [
    {
      "fullUrl": "urn:uuid:8d3f2c1e-5b6a-4c7d-9e8f-0a1b2c3d4e5f",
      "resource": {
        "resourceType": "Patient",
        "identifier": [
          {
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
            "value": "H-204518"
          }
        ],
        "name": [{"family": "Rivera", "given": ["Maria"]}],
        "gender": "female",
        "birthDate": "1958-04-17",
        "telecom": [
          {"system": "phone", "value": "555-0142"},
          {"system": "email", "value": "maria.rivera@example.org"}
        ]
      }
    },
    {
      "fullUrl": "urn:uuid:1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b",
      "resource": {
        "resourceType": "Practitioner",
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
        "name": [{"family": "Okafor", "given": ["James"], "suffix": ["MD"]}]
      }
    },
    {
      "fullUrl": "urn:uuid:0a9b8c7d-6e5f-4a3b-8c1d-2e3f4a5b6c7d",
      "resource": {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "priority": "routine",
        "code": {"coding": [{"system": "https://medfit.app/fhir/CodeSystem/program-type", "code": "cr"}]},
        "subject": {"reference": "urn:uuid:8d3f2c1e-5b6a-4c7d-9e8f-0a1b2c3d4e5f"},
        "requester": {"reference": "urn:uuid:1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"},
        "authoredOn": "2025-03-02",
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I21.4"}]}],
        "note": [{"text": "NSTEMI 2025-02-20, PCI to LAD. Please enroll in phase II."}]
      }
    }
  ]
}
```

How the Bundle is read:

- Exactly one Patient and one ServiceRequest; a Practitioner (the requester) is optional in FHIR but MedFit
  needs one to know who referred. Other resources are checked for FHIR structure and otherwise ignored.
- References are resolved inside the Bundle, by `fullUrl` ("urn:uuid:…") or by "<Type>/<id>".
- Patient: name (family and a given name) and a full birthDate are required; gender male/female/other/unknown;
  an identifier typed MR (v2-0203) is the MRN; the first phone and email in telecom are kept.
- ServiceRequest: status active or draft; intent order, plan or proposal; priority routine, or urgent/asap/stat
  (urgent); authoredOn is the referral date (today when absent); ICD-10-CM codings in reasonCode are the
  diagnosis codes; the note texts are the reason; the program is chosen by a coding in `code` from
  https://medfit.app/fhir/CodeSystem/program-type whose code is a MedFit program type (cr, icr, pr, dpp, mdpp,
  post_rehab, …): the clinic's active program of that type (the first by name if it has several).
- The ServiceRequest's first identifier with a value names the order: a Bundle posted again with the same
  identifier (system and value) gives the referral created the first time (HTTP 200) instead of a second one.
- The requester is a Practitioner with an NPI (http://hl7.org/fhir/sid/us-npi). The clinic's referring provider
  with that NPI is used, or created from the Practitioner.

The patient is matched as for any referral: MRN, name and birth date all agreeing link that patient; a
partial match (the same name and birth date, or a known MRN under another name) flags a possible duplicate
for staff; otherwise a patient record is created.

Problems are answered with HTTP 400 and an OperationOutcome listing every problem found, each with the FHIRPath
of the element (`Bundle.entry[2].resource.subject`). Nothing is saved unless the whole Bundle is accepted.
"""

import datetime
import re
import zoneinfo
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner as FhirPractitioner
from fhir.resources.R4B.servicerequest import ServiceRequest as FhirServiceRequest
from pydantic import ValidationError as PydanticValidationError

from clinic.models import Patient, Program, ProgramType
from clinic.parsers import JSONParser
from referrals import services
from referrals.models import Referral, ReferringProvider, validate_icd10, validate_npi

FHIR_JSON = "application/fhir+json"
PROGRAM_TYPE_SYSTEM = "https://medfit.app/fhir/CodeSystem/program-type"
ICD10_CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
V2_0203_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"

GENDER_TO_SEX = {
    "male": Patient.Sex.MALE,
    "female": Patient.Sex.FEMALE,
    "other": Patient.Sex.OTHER,
    "unknown": Patient.Sex.UNKNOWN,
}
PRIORITY_TO_URGENCY = {
    "routine": Referral.Urgency.ROUTINE,
    "urgent": Referral.Urgency.URGENT,
    "asap": Referral.Urgency.URGENT,
    "stat": Referral.Urgency.URGENT,
}
ACCEPTED_STATUSES = ("active", "draft")
ACCEPTED_INTENTS = ("order", "plan", "proposal")

# The resources MedFit reads; any other resource in the Bundle is only checked for FHIR structure.
MODELS = {"Patient": FhirPatient, "ServiceRequest": FhirServiceRequest, "Practitioner": FhirPractitioner}

MAX_ISSUES = 100  # a badly broken Bundle would otherwise answer with thousands of lines

_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class FhirJsonParser(JSONParser):
    """FHIR clients send `Content-Type: application/fhir+json`; the body is plain JSON."""

    media_type = FHIR_JSON


# OperationOutcome issue codes (http://hl7.org/fhir/issue-type) for refusals before the Bundle is read.
ISSUE_CODE_BY_STATUS = {
    400: "structure", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
    413: "too-costly", 415: "not-supported",
}  # fmt: skip


def operation_outcome(status: int, message: str) -> dict:
    """A refusal of the request itself (unparsable, too large, not allowed) as an OperationOutcome."""
    code = ISSUE_CODE_BY_STATUS.get(status, "exception")
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": message}]}


class FhirIntakeError(Exception):
    """The Bundle was refused. `issues` are OperationOutcome issues, each naming the element at fault."""

    def __init__(self, issues: list[dict]) -> None:
        self.issues = issues
        super().__init__("; ".join(issue.get("diagnostics", "") for issue in issues) or "The Bundle was refused.")

    def operation_outcome(self) -> dict:
        return {"resourceType": "OperationOutcome", "issue": self.issues}


def referral_from_bundle(*, clinic, actor, bundle: dict) -> tuple[Referral, bool]:
    """Create a referral (source FHIR) from a Bundle, or raise FhirIntakeError listing every problem found.

    Returns the referral and whether it was created: a ServiceRequest whose identifier this clinic has
    received before gives the referral made then."""
    reader = _BundleReader(clinic, bundle)
    plan = reader.read()
    if reader.issues:
        raise FhirIntakeError(reader.issues)
    received = _received_before(clinic, plan.external_identifier)
    if received is not None:
        return received, False
    try:
        # One transaction: if the referral is refused, the provider created for it is not kept either.
        with transaction.atomic():
            provider = plan.provider or _create_provider(clinic, actor, plan, reader)
            try:
                referral = services.referral_create(
                    clinic=clinic,
                    actor=actor,
                    source=Referral.Source.FHIR,
                    data={**plan.data, "referring_provider": provider},
                    external_identifier=plan.external_identifier,
                )
            except ValidationError as error:
                raise FhirIntakeError(reader.issues_from_validation_error(error, plan.expressions)) from error
    except IntegrityError:
        # Another request received the same ServiceRequest a moment ago (the unique constraint): use theirs.
        received = _received_before(clinic, plan.external_identifier)
        if received is None:
            raise
        return received, False
    return referral, True


def _received_before(clinic, external_identifier: str) -> Referral | None:
    if not external_identifier:
        return None
    return Referral.objects.filter(clinic=clinic, external_identifier=external_identifier).first()


# --- Reading the Bundle --------------------------------------------------------------------------------------


@dataclass
class _Entry:
    index: int
    resource: dict

    @property
    def type(self) -> str:
        return self.resource.get("resourceType") if isinstance(self.resource.get("resourceType"), str) else ""

    def path(self, element: str = "") -> str:
        base = f"Bundle.entry[{self.index}].resource"
        return f"{base}.{element}" if element else base

    def label(self, element: str = "") -> str:
        return f"{self.type}.{element}" if element else self.type


@dataclass
class _Plan:
    data: dict = field(default_factory=dict)  # the referral fields for services.referral_create
    provider: ReferringProvider | None = None  # the clinic's provider with the requester's NPI, if any
    provider_data: dict = field(default_factory=dict)  # fields for a new provider otherwise
    external_identifier: str = ""  # the ServiceRequest's first identifier, "system|value"
    # Where each referral, patient and provider field came from, so the service's errors name the element.
    expressions: dict[str, tuple[str, str]] = field(default_factory=dict)


class _BundleReader:
    """Checks the Bundle against FHIR and MedFit's rules, collecting every issue, and plans the referral."""

    def __init__(self, clinic, bundle):
        self.clinic = clinic
        self.bundle = bundle
        self.issues: list[dict] = []
        self._structure_paths: list[str] = []  # elements the FHIR structure check already complained about
        self.tz = zoneinfo.ZoneInfo(clinic.timezone)
        self.today = timezone.localdate(timezone=self.tz)

    # Issues ------------------------------------------------------------------------------------------

    def issue(self, code: str, expression: str, label: str, message: str, *, structural: bool = False) -> None:
        if len(self.issues) >= MAX_ISSUES:
            return
        if not structural and self._already_reported(expression):
            return
        if structural:
            self._structure_paths.append(expression)
        self.issues.append(
            {"severity": "error", "code": code, "diagnostics": f"{label}: {message}", "expression": [expression]}
        )

    def entry_issue(self, code: str, entry: _Entry, element: str, message: str) -> None:
        self.issue(code, entry.path(element), entry.label(element), message)

    def _already_reported(self, expression: str) -> bool:
        """A MedFit rule is not repeated for an element whose FHIR structure was already refused."""
        if ".resource" not in expression:
            return False
        for reported in self._structure_paths:
            shorter, longer = sorted((reported, expression), key=len)
            if longer == shorter or longer.startswith((shorter + ".", shorter + "[")):
                return True
        return False

    def issues_from_validation_error(self, error: ValidationError, expressions: dict[str, tuple[str, str]]):
        """The service's field errors, each pointed at the Bundle element the field came from."""
        messages = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
        issues = []
        for field_name, field_messages in messages.items():
            expression, label = expressions.get(field_name, ("Bundle", "Bundle"))
            for message in field_messages:
                issues.append(
                    {
                        "severity": "error",
                        "code": "invalid",
                        "diagnostics": f"{label}: {message}",
                        "expression": [expression],
                    }
                )
        return issues

    # The Bundle --------------------------------------------------------------------------------------

    def read(self) -> _Plan:
        plan = _Plan()
        bundle = self.bundle
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            found = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
            self.issue(
                "structure",
                "Bundle",
                "Bundle",
                f'the body must be a FHIR Bundle (resourceType "Bundle"), not {_shown(found)}.',
            )
            return plan
        entries = self._check_structure(bundle)
        by_type: dict[str, list[_Entry]] = {}
        for entry in entries:
            by_type.setdefault(entry.type, []).append(entry)
        patient = self._single(by_type, "Patient")
        request = self._single(by_type, "ServiceRequest")
        index = self._reference_index(bundle, entries)
        if patient is not None:
            self._read_patient(patient, plan)
        if request is not None:
            self._read_request(request, patient, index, plan)
        return plan

    def _check_structure(self, bundle: dict) -> list[_Entry]:
        """Validate the Bundle and each resource with fhir.resources; return the entries that carry a resource."""
        raw_entries = bundle.get("entry")
        envelope = dict(bundle)
        if isinstance(raw_entries, list):
            # Resources are validated one by one below, so one broken resource does not hide the others.
            envelope["entry"] = [
                {key: value for key, value in item.items() if key != "resource"} if isinstance(item, dict) else item
                for item in raw_entries
            ]
        self._validate(Bundle, envelope, "Bundle", "Bundle")
        if not isinstance(raw_entries, list):
            return []
        entries = []
        for position, item in enumerate(raw_entries):
            if not isinstance(item, dict):
                continue  # reported by the Bundle check
            resource = item.get("resource")
            if not isinstance(resource, dict):
                self.issue(
                    "required",
                    f"Bundle.entry[{position}].resource",
                    f"Bundle.entry[{position}].resource",
                    "each entry must carry a resource.",
                    structural=True,
                )
                continue
            entry = _Entry(position, resource)
            if not entry.type:
                self.issue(
                    "required",
                    entry.path("resourceType"),
                    f"Bundle.entry[{position}].resource.resourceType",
                    "Field required",
                    structural=True,
                )
                continue
            model = MODELS.get(entry.type)
            if model is None:
                try:
                    model = get_fhir_model_class(entry.type)
                except (KeyError, ValueError):
                    self.issue(
                        "value",
                        entry.path("resourceType"),
                        entry.label("resourceType"),
                        f"{_shown(entry.type)} is not a FHIR R4B resource type.",
                        structural=True,
                    )
                    continue
            self._validate(model, resource, entry.path(), entry.type)
            entries.append(entry)
        return entries

    def _validate(self, model, data: dict, expression: str, label: str) -> None:
        try:
            model.model_validate(data)
        except PydanticValidationError as error:
            for problem in error.errors():
                element = _element_path(problem["loc"])
                code = {"missing": "required", "value_error": "value"}.get(problem["type"], "structure")
                self.issue(code, _join(expression, element), _join(label, element), _readable(problem), structural=True)
        except (KeyError, ValueError, TypeError) as error:
            # fhir.resources raises KeyError('R4.FooType') for an unknown resource type nested in a resource.
            unknown = re.fullmatch(r"R4B?\.(\w+)Type", str(error.args[0]) if error.args else "")
            reason = f"it contains an unknown resource type {_shown(unknown[1])}" if unknown else str(error)
            self.issue("structure", expression, label, f"this is not valid FHIR R4B ({reason}).", structural=True)

    def _single(self, by_type: dict[str, list[_Entry]], resource_type: str) -> _Entry | None:
        found = by_type.get(resource_type, [])
        if len(found) == 1:
            return found[0]
        if not found:
            self.issue("required", "Bundle.entry", "Bundle.entry", f"the Bundle must contain a {resource_type}.")
        else:
            positions = ", ".join(str(entry.index) for entry in found)
            self.issue(
                "structure",
                "Bundle.entry",
                "Bundle.entry",
                f"the Bundle must contain exactly one {resource_type}; found {len(found)} (entries {positions}).",
            )
        return None

    @staticmethod
    def _reference_index(bundle: dict, entries: list[_Entry]) -> dict[str, _Entry]:
        """What a reference inside the Bundle may say: the entry's fullUrl, or "<Type>/<id>"."""
        raw_entries = bundle.get("entry")
        index = {}
        for entry in entries:
            full_url = raw_entries[entry.index].get("fullUrl")
            if isinstance(full_url, str) and full_url:
                index[full_url] = entry
            resource_id = entry.resource.get("id")
            if isinstance(resource_id, str) and resource_id:
                index.setdefault(f"{entry.type}/{resource_id}", entry)
        return index

    # Patient -----------------------------------------------------------------------------------------

    def _read_patient(self, patient: _Entry, plan: _Plan) -> None:
        resource, data, where = patient.resource, plan.data, plan.expressions

        names = _dicts(resource.get("name"))
        if not names:
            self.entry_issue("required", patient, "name", "the patient's name (family and given) is required.")
        else:
            position, name = _preferred_name(names)
            family, given = _text(name.get("family")), [_text(part) for part in _list(name.get("given"))]
            if not family:
                self.entry_issue("required", patient, f"name[{position}].family", "the family name is required.")
            if not given or not given[0]:
                self.entry_issue("required", patient, f"name[{position}].given", "at least one given name is required.")
            data["patient_last_name"], data["patient_first_name"] = family, given[0] if given else ""
            for key in ("patient_last_name", "last_name"):
                where[key] = _where(patient, f"name[{position}].family")
            for key in ("patient_first_name", "first_name"):
                where[key] = _where(patient, f"name[{position}].given[0]")

        birth_date = resource.get("birthDate")
        if birth_date is None:
            self.entry_issue("required", patient, "birthDate", "the date of birth is required (YYYY-MM-DD).")
        elif not isinstance(birth_date, str) or not _FULL_DATE.match(birth_date) or _date(birth_date) is None:
            self.entry_issue("value", patient, "birthDate", f"{_shown(birth_date)} is not a full date (YYYY-MM-DD).")
        elif _date(birth_date) > self.today:
            self.entry_issue("value", patient, "birthDate", f"the date of birth {birth_date} is in the future.")
        else:
            data["patient_date_of_birth"] = _date(birth_date)
        for key in ("patient_date_of_birth", "date_of_birth"):
            where[key] = _where(patient, "birthDate")

        gender = resource.get("gender")
        if gender is None:
            data["patient_sex"] = Patient.Sex.UNKNOWN
        elif gender in GENDER_TO_SEX:
            data["patient_sex"] = GENDER_TO_SEX[gender]
        else:
            self.entry_issue(
                "value", patient, "gender", f"{_shown(gender)} is not one of male, female, other, unknown."
            )
        for key in ("patient_sex", "sex"):
            where[key] = _where(patient, "gender")

        for position, identifier in enumerate(_dicts(resource.get("identifier"))):
            if _has_coding(identifier.get("type"), V2_0203_SYSTEM, "MR") and _text(identifier.get("value")):
                data["patient_mrn"] = _text(identifier.get("value"))
                for key in ("patient_mrn", "mrn"):
                    where[key] = _where(patient, f"identifier[{position}].value")
                break

        for system, keys in (("phone", ("patient_phone", "phone")), ("email", ("patient_email", "email"))):
            found = _contact(resource, system)
            if found is not None:
                position, value = found
                data[keys[0]] = value
                for key in keys:
                    where[key] = _where(patient, f"telecom[{position}].value")

    # ServiceRequest ----------------------------------------------------------------------------------

    def _read_request(self, request: _Entry, patient: _Entry | None, index: dict[str, _Entry], plan: _Plan) -> None:
        resource, data, where = request.resource, plan.data, plan.expressions

        status = resource.get("status")
        if status is None:
            self.entry_issue("required", request, "status", "the status is required (active or draft).")
        elif status not in ACCEPTED_STATUSES:
            self.entry_issue("value", request, "status", f"{_shown(status)} cannot be received; send active or draft.")

        intent = resource.get("intent")
        if intent is None:
            self.entry_issue("required", request, "intent", "the intent is required (order, plan or proposal).")
        elif intent not in ACCEPTED_INTENTS:
            self.entry_issue("value", request, "intent", f"{_shown(intent)} is not one of order, plan, proposal.")

        subject = resource.get("subject")
        if subject is None:
            self.entry_issue("required", request, "subject", "the subject (a reference to the Patient) is required.")
        elif patient is not None and _resolve(subject, index) is not patient:
            self.entry_issue(
                "invalid",
                request,
                "subject.reference",
                f"{_shown(_reference(subject))} does not reference the Patient in this Bundle "
                f"(use its fullUrl or Patient/<id>).",
            )

        priority = resource.get("priority")
        if priority is None:
            data["urgency"] = Referral.Urgency.ROUTINE
        elif priority in PRIORITY_TO_URGENCY:
            data["urgency"] = PRIORITY_TO_URGENCY[priority]
        else:
            self.entry_issue(
                "value", request, "priority", f"{_shown(priority)} is not one of routine, urgent, asap, stat."
            )
        where["urgency"] = _where(request, "priority")

        authored_on = resource.get("authoredOn")
        if authored_on is None:
            data["referral_date"] = self.today
        else:
            referral_date = self._local_date(authored_on)
            if referral_date is None:
                self.entry_issue(
                    "value",
                    request,
                    "authoredOn",
                    f"{_shown(authored_on)} is not a date (YYYY-MM-DD) or date and time in the years 1 to 9999.",
                )
            else:
                data["referral_date"] = referral_date
        where["referral_date"] = _where(request, "authoredOn")

        codes = []
        for concept_position, concept in enumerate(_dicts(resource.get("reasonCode"))):
            for coding_position, coding in enumerate(_dicts(concept.get("coding"))):
                if coding.get("system") != ICD10_CM_SYSTEM:
                    continue
                element = f"reasonCode[{concept_position}].coding[{coding_position}].code"
                code = _icd10(coding.get("code"))
                if code is None:
                    self.entry_issue(
                        "value",
                        request,
                        element,
                        f"{_shown(coding.get('code'))} is not an ICD-10-CM code (like I21.4 or R73.03).",
                    )
                elif code not in codes:
                    codes.append(code)
        data["diagnosis_codes"] = codes
        where["diagnosis_codes"] = _where(request, "reasonCode")

        notes = [_text(note.get("text")) for note in _dicts(resource.get("note"))]
        data["reason"] = "\n\n".join(note for note in notes if note)
        where["reason"] = _where(request, "note")

        self._read_identifier(request, plan)
        self._read_program(request, plan)
        self._read_requester(request, index, plan)

    def _read_identifier(self, request: _Entry, plan: _Plan) -> None:
        for position, identifier in enumerate(_dicts(request.resource.get("identifier"))):
            value = _text(identifier.get("value"))
            if not value:
                continue
            external_identifier = f"{_text(identifier.get('system'))}|{value}"
            max_length = Referral._meta.get_field("external_identifier").max_length
            if len(external_identifier) > max_length:
                self.entry_issue(
                    "value",
                    request,
                    f"identifier[{position}]",
                    f"the identifier's system and value are longer than {max_length} characters.",
                )
            plan.external_identifier = external_identifier
            return

    def _local_date(self, value) -> datetime.date | None:
        if not isinstance(value, str):
            return None
        if _FULL_DATE.match(value):
            return _date(value)
        if "T" not in value:
            return None  # a partial date (2025 or 2025-03) does not say which day
        try:
            moment = datetime.datetime.fromisoformat(value)
            return moment.astimezone(self.tz).date() if moment.tzinfo else moment.date()
        except (ValueError, OverflowError):
            # OverflowError: a moment at the calendar's edge (0001-01-01T00:00:00+14:00) falls outside it in the
            # clinic's time zone.
            return None

    def _read_program(self, request: _Entry, plan: _Plan) -> None:
        plan.expressions["program"] = _where(request, "code")
        codings = _dicts(_dict(request.resource.get("code")).get("coding"))
        found = [(position, c) for position, c in enumerate(codings) if c.get("system") == PROGRAM_TYPE_SYSTEM]
        if not found:
            self.entry_issue(
                "required",
                request,
                "code",
                f"the program is required: a coding with system {PROGRAM_TYPE_SYSTEM} and a program "
                f"type code ({', '.join(ProgramType.values)}).",
            )
            return
        position, coding = found[0]
        program_type = coding.get("code")
        element = f"code.coding[{position}].code"
        plan.expressions["program"] = _where(request, element)
        if program_type not in ProgramType.values:
            self.entry_issue(
                "value",
                request,
                element,
                f"{_shown(program_type)} is not a MedFit program type; use one of {', '.join(ProgramType.values)}.",
            )
            return
        program = (
            Program.objects.filter(clinic=self.clinic, program_type=program_type, is_active=True)
            .order_by("name", "pk")
            .first()
        )
        if program is None:
            self.entry_issue(
                "not-found",
                request,
                element,
                f"{self.clinic.name} has no active {_program_type_phrase(program_type)} program.",
            )
            return
        plan.data["program"] = program

    def _read_requester(self, request: _Entry, index: dict[str, _Entry], plan: _Plan) -> None:
        plan.expressions["referring_provider"] = _where(request, "requester")
        requester = request.resource.get("requester")
        if requester is None:
            self.entry_issue(
                "required",
                request,
                "requester",
                "the requester (a reference to the referring Practitioner, with an NPI) is required.",
            )
            return
        practitioner = _resolve(requester, index)
        if practitioner is None or practitioner.type != "Practitioner":
            found = f"a {practitioner.type}" if practitioner is not None else "nothing in this Bundle"
            self.entry_issue(
                "invalid",
                request,
                "requester.reference",
                f"{_shown(_reference(requester))} must reference a Practitioner in this Bundle; it references {found}.",
            )
            return

        resource, where = practitioner.resource, plan.expressions
        npi_position = next(
            (
                position
                for position, identifier in enumerate(_dicts(resource.get("identifier")))
                if identifier.get("system") == NPI_SYSTEM
            ),
            None,
        )
        if npi_position is None:
            self.entry_issue(
                "required",
                practitioner,
                "identifier",
                f"the referring practitioner's NPI (an identifier with system {NPI_SYSTEM}) is required.",
            )
            return
        npi_element = f"identifier[{npi_position}].value"
        where["npi"] = _where(practitioner, npi_element)
        npi = _text(_dicts(resource.get("identifier"))[npi_position].get("value"))
        try:
            validate_npi(npi)
        except ValidationError:
            self.entry_issue(
                "value",
                practitioner,
                npi_element,
                f"{_shown(npi)} is not a valid NPI (10 digits with a matching check digit).",
            )
            return

        plan.provider = ReferringProvider.objects.filter(clinic=self.clinic, npi=npi).first()
        if plan.provider is not None:
            return
        # A provider this clinic has not seen yet: created from the Practitioner.
        names = _dicts(resource.get("name"))
        position, name = _preferred_name(names) if names else (0, {})
        given = [_text(part) for part in _list(name.get("given"))]
        provider = {
            "npi": npi,
            "first_name": given[0] if given else "",
            "last_name": _text(name.get("family")),
            "credentials": ", ".join(_text(part) for part in _list(name.get("suffix")) if _text(part))[:30],
        }
        if not names:
            self.entry_issue(
                "required",
                practitioner,
                "name",
                "the practitioner's name is required to add them as a referring provider.",
            )
        else:
            if not provider["last_name"]:
                self.entry_issue(
                    "required", practitioner, f"name[{position}].family", "the practitioner's family name is required."
                )
            if not provider["first_name"]:
                self.entry_issue(
                    "required", practitioner, f"name[{position}].given", "the practitioner's given name is required."
                )
        where["last_name:provider"] = _where(practitioner, f"name[{position}].family")
        where["first_name:provider"] = _where(practitioner, f"name[{position}].given[0]")
        where["credentials"] = _where(practitioner, f"name[{position}].suffix")
        for system in ("phone", "fax", "email"):
            found = _contact(resource, system)
            if found is not None:
                telecom_position, value = found
                provider[system] = value
                where[f"{system}:provider"] = _where(practitioner, f"telecom[{telecom_position}].value")
        plan.provider_data = provider


def _create_provider(clinic, actor, plan: _Plan, reader: _BundleReader) -> ReferringProvider:
    try:
        return services.provider_save(clinic=clinic, actor=actor, data=plan.provider_data)
    except IntegrityError:
        # Another request added the same NPI a moment ago (provider_save ran in its own savepoint): use theirs.
        provider = ReferringProvider.objects.filter(clinic=clinic, npi=plan.provider_data["npi"]).first()
        if provider is None:
            raise
        return provider
    except ValidationError as error:
        # Provider fields share names with patient fields; point these at the Practitioner.
        expressions = {**plan.expressions}
        for key in ("first_name", "last_name", "phone", "fax", "email"):
            expressions[key] = plan.expressions.get(f"{key}:provider", plan.expressions["referring_provider"])
        raise FhirIntakeError(reader.issues_from_validation_error(error, expressions)) from error


# --- Small readers of untrusted JSON ---------------------------------------------------------------------


def _where(entry: _Entry, element: str) -> tuple[str, str]:
    return entry.path(element), entry.label(element)


def _join(base: str, element: str) -> str:
    if not element:
        return base
    return f"{base}{element}" if element.startswith("[") else f"{base}.{element}"


def _element_path(loc) -> str:
    """('name', 0, 'family') -> "name[0].family"; fhir.resources' "birthDate__ext" is the JSON "_birthDate"."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            part = str(part)
            if part == "resource_type":
                part = "resourceType"
            elif part.endswith("__ext"):
                part = "_" + part.removesuffix("__ext")
            path = f"{path}.{part}" if path else part
    return path


def _readable(problem: dict) -> str:
    message = problem["msg"].removeprefix("Value error, ")
    if problem["type"] == "extra_forbidden":
        return "Unknown element (not part of this FHIR R4B resource)."
    if problem["type"] == "json_invalid":  # fhir.resources reads a string given for an object as JSON
        return f"expected a JSON object, not {_shown(problem.get('input'))}."
    if "does not match spec regex" in message:
        kind = message.split(" value string", 1)[0]
        return f"{_shown(problem.get('input'))} is not a valid FHIR {kind}." if kind else message
    return message


def _shown(value) -> str:
    """A value quoted in a message, cut short: the sender should recognise it, not get it all back."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _dicts(value) -> list[dict]:
    """The list of objects at an element; anything malformed (already reported by the FHIR check) as empty."""
    return [item if isinstance(item, dict) else {} for item in _list(value)]


def _date(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


def _preferred_name(names: list[dict]) -> tuple[int, dict]:
    for preference in ("official", "usual"):
        for position, name in enumerate(names):
            if name.get("use") == preference:
                return position, name
    for position, name in enumerate(names):
        if name.get("use") not in ("old", "nickname", "anonymous"):
            return position, name
    return 0, names[0]


def _has_coding(concept, system: str, code: str) -> bool:
    return any(c.get("system") == system and c.get("code") == code for c in _dicts(_dict(concept).get("coding")))


def _contact(resource: dict, system: str) -> tuple[int, str] | None:
    """The first current telecom of a system (phone, fax, email): its position and value."""
    for position, point in enumerate(_dicts(resource.get("telecom"))):
        if point.get("system") == system and point.get("use") != "old" and _text(point.get("value")):
            return position, _text(point.get("value"))
    return None


def _reference(reference) -> str:
    return _text(_dict(reference).get("reference"))


def _resolve(reference, index: dict[str, _Entry]) -> _Entry | None:
    target = _reference(reference)
    return index.get(target) if target else None


def _icd10(value) -> str | None:
    """An ICD-10-CM code as MedFit stores it (I21.4), or None when it is not one. "I214" gains its dot."""
    code = _text(value).upper()
    if len(code) > 3 and "." not in code:
        code = f"{code[:3]}.{code[3:]}"
    try:
        validate_icd10(code)
    except ValidationError:
        return None
    return code


def _program_type_phrase(program_type: str) -> str:
    """ "cr" -> "cardiac rehab"; names and acronyms (CDC National DPP, Medicare DPP) keep their capitals."""
    label = str(ProgramType(program_type).label).removesuffix(" program")
    first_word = label.split()[0]
    if first_word.isupper() or first_word == "Medicare":
        return label
    return label[0].lower() + label[1:]
