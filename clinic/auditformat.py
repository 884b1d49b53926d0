"""How an audit entry reads to a person, on the audit page and in its CSV export alike: who acted
(name and email), and what changed, with field labels and readable values instead of column names
and Python reprs."""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from auditlog.diff import mask_str
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst

from clinic.models import AuditEntry

EMPTY = "—"
MASKED = "•••• (masked)"
# django-auditlog masks values as strings, so a masked field that was empty is stored as "**ne".
MASKED_EMPTY = {"", "None", mask_str("None")}


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class ReadableEntry:
    entry: AuditEntry
    actor: str
    record_type: str
    changes: list[Change]

    @property
    def field_names(self) -> str:
        return ", ".join(c.field for c in self.changes)

    @property
    def details(self) -> str:
        """One line for the CSV: the changes, or the access entry's note."""
        if self.changes:
            return "; ".join(f"{c.field}: {c.old} → {c.new}" for c in self.changes)
        return self.entry.changes_text or ""


def actor_label(entry: AuditEntry) -> str:
    if entry.actor is not None:
        name = entry.actor.get_full_name()
        return f"{name} ({entry.actor.email})" if name else entry.actor.email
    if entry.actor_email == "system":
        return "System"
    return entry.actor_email or EMPTY  # a failed sign-in records the email that was typed


def readable(entries) -> list[ReadableEntry]:
    """Entries as people read them. Related records are named with one query per related model."""
    entries = list(entries)
    for entry in entries:
        # From Django's per-process cache of content types rather than joined to every entry (issue 11).
        entry.content_type = ContentType.objects.get_for_id(entry.content_type_id)
    names = _related_names(entries)
    return [
        ReadableEntry(
            entry=entry,
            actor=actor_label(entry),
            record_type=_record_type(entry),
            changes=_changes(entry, names),
        )
        for entry in entries
    ]


def readable_stream(entries, chunk_size: int = 2000):
    """`readable` for an export of any length: reads and names related records a chunk at a time."""
    chunk = []
    for entry in entries.iterator(chunk_size=chunk_size):
        chunk.append(entry)
        if len(chunk) == chunk_size:
            yield from readable(chunk)
            chunk = []
    yield from readable(chunk)


def _record_type(entry) -> str:
    model = entry.content_type.model_class()
    return capfirst(model._meta.verbose_name) if model else entry.content_type.model


def _fields(entry):
    """(field, old, new) for each recorded change of a model field that still exists. Reverse
    relations are skipped (auditlog records their managers' reprs, "referrals.Referral.None"), and so
    is the id: the entry already names its record."""
    model = entry.content_type.model_class()
    if model is None or not entry.changes:
        return
    for name, (old, new) in entry.changes_dict.items():
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if field.concrete and not field.primary_key:
            yield field, old, new


def _related_names(entries) -> dict:
    """{(model, pk): "readable name"} for every foreign key value in these entries' changes."""
    wanted = defaultdict(set)
    for entry in entries:
        for field, old, new in _fields(entry):
            if field.many_to_one or field.one_to_one:
                wanted[field.related_model].update(v for v in (old, new) if v not in (None, ""))
    return {
        (model, str(obj.pk)): str(obj)
        for model, pks in wanted.items()
        for obj in model._default_manager.filter(pk__in=pks)
    }


def _changes(entry, names) -> list[Change]:
    model = entry.content_type.model_class()
    masked = set(auditlog.get_model_fields(model)["mask_fields"]) if model and auditlog.contains(model) else set()
    changes = [
        Change(
            field=capfirst(field.verbose_name),
            old=_value(field, old, names, field.name in masked),
            new=_value(field, new, names, field.name in masked),
        )
        for field, old, new in _fields(entry)
    ]
    # A new record's empty fields ("— → —") say nothing.
    return [c for c in changes if not c.old == c.new == EMPTY]


def _value(field, value, names, masked: bool) -> str:
    if masked:
        return EMPTY if value is None or value in MASKED_EMPTY else MASKED
    if value is None or value == "" or value == []:
        return EMPTY
    if field.many_to_one or field.one_to_one:
        return names.get((field.related_model, str(value)), f"Deleted {field.related_model._meta.verbose_name}")
    if isinstance(value, list):
        return ", ".join(_value(getattr(field, "base_field", field), item, names, False) for item in value)
    if field.flatchoices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    try:
        if isinstance(field, models.DateTimeField):
            return _datetime(value)
        if isinstance(field, models.DateField):
            return datetime.date.fromisoformat(str(value)).strftime("%m/%d/%Y")
    except ValueError:
        pass  # an older entry in another format: show it as recorded
    return str(value)


def _datetime(value) -> str:
    moment = datetime.datetime.fromisoformat(str(value))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)  # auditlog stores UTC without an offset
    return timezone.localtime(moment).strftime("%m/%d/%Y %H:%M")
