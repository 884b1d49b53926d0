"""Schedule pages: the calendar, classes (recurring templates), one class with its bookings, individual
appointments and insurance authorizations. Thin: each resolves, validates, calls one service or selector."""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic import audit
from clinic.permissions import has_permission
from clinic.tenancy import clinic_view
from clinic.views import attach_errors
from scheduling import forms, selectors, services
from scheduling.models import Authorization, Booking, Occurrence, StandingBooking


def _occurrence_redirect(request, occurrence):
    return redirect("occurrence_detail", clinic_slug=request.clinic.slug, occurrence_id=occurrence.pk)


def _warn(request, warnings):
    for warning in warnings:
        messages.warning(request, warning)


# --- Calendar ---------------------------------------------------------------------------------


@clinic_view("schedule.view")
def calendar(request):
    clinic = request.clinic
    staff = list(selectors.schedule_staff(clinic=clinic))
    form = forms.CalendarFilterForm(request.GET or None, rooms=selectors.rooms_of_clinic(clinic=clinic), staff=staff)
    view, day, room, staff_id = form.values(timezone.localdate())
    if view == "day":
        start = end = day
        step = datetime.timedelta(days=1)
    else:
        start = day - datetime.timedelta(days=day.weekday())
        end = start + datetime.timedelta(days=6)
        step = datetime.timedelta(weeks=1)
    occurrences = list(selectors.occurrences_between(clinic=clinic, start=start, end=end, room=room, staff_id=staff_id))
    days = []
    for offset in range((end - start).days + 1):
        date = start + datetime.timedelta(days=offset)
        days.append((date, [o for o in occurrences if timezone.localtime(o.starts_at).date() == date]))
    context = {
        "form": form, "view": view, "day": day, "start": start, "end": end, "days": days, "room": room,
        "staff_id": staff_id or "", "previous": day - step, "next": day + step, "today": timezone.localdate(),
        "can_manage": has_permission(request.membership, "schedule.manage"),
    }  # fmt: skip
    template = "scheduling/_calendar.html" if request.htmx else "scheduling/calendar.html"
    return render(request, template, context)


# --- Classes (recurring templates) ----------------------------------------------------------


@clinic_view("schedule.view")
def template_list(request):
    templates = selectors.templates_of_clinic(clinic=request.clinic)
    return render(
        request, "scheduling/templates.html",
        {"templates": templates, "can_manage": has_permission(request.membership, "schedule.manage")},
    )  # fmt: skip


@clinic_view("schedule.manage")
def template_edit(request, template_id=None):
    clinic = request.clinic
    template = selectors.template_get(clinic=clinic, template_id=template_id) if template_id else None
    initial = {} if template else {"starts_on": timezone.localdate()}
    form = forms.ClassTemplateForm(request.POST or None, instance=template, clinic=clinic, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.class_template_save(
                clinic=clinic, actor=request.membership, data=form.cleaned_data, template=template
            )
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, f"{template.name} saved; its classes are scheduled {services.HORIZON_WEEKS} "
                                      "weeks ahead.")  # fmt: skip
            return redirect("template_detail", clinic_slug=clinic.slug, template_id=template.pk)
    return render(request, "scheduling/template_form.html", {"form": form, "template": template})


@clinic_view("schedule.view")
def template_detail(request, template_id):
    clinic = request.clinic
    template = selectors.template_get(clinic=clinic, template_id=template_id)
    standing = list(selectors.standing_bookings_of(clinic=clinic, template=template))
    can_manage = has_permission(request.membership, "booking.manage")
    form = None
    if can_manage:
        enrollments = selectors.enrollments_for_booking(clinic=clinic, program_id=template.program_id)
        form = forms.StandingBookingForm(request.POST or None, enrollments=enrollments)
        if request.method == "POST" and form.is_valid():
            try:
                _, result = services.standing_booking_create(
                    clinic=clinic, actor=request.membership, template=template,
                    enrollment=form.cleaned_data["enrollment"], starts_on=form.cleaned_data["starts_on"],
                )  # fmt: skip
            except ValidationError as error:
                attach_errors(form, error)
            else:
                text = f"Booked into {len(result.booked)} upcoming classes"
                if result.waitlisted:
                    text += f" and waitlisted for {len(result.waitlisted)} full ones"
                messages.success(request, text + ".")
                _warn(request, result.warnings)
                return redirect("template_detail", clinic_slug=clinic.slug, template_id=template.pk)
    upcoming = selectors.occurrences_between(
        clinic=clinic, start=timezone.localdate(), end=timezone.localdate() + datetime.timedelta(weeks=4)
    ).filter(template=template)
    audit.record_list_access(
        clinic=clinic, actor=request.user, model=StandingBooking, request=request,
        object_ids=[s.pk for s in standing], detail=f"Standing bookings of {template.name}",
    )  # fmt: skip
    return render(
        request, "scheduling/template_detail.html",
        {"template": template, "standing": standing, "form": form, "upcoming": upcoming, "can_manage": can_manage,
         "can_edit": has_permission(request.membership, "schedule.manage")},
    )  # fmt: skip


@require_POST
@clinic_view("booking.manage")
def standing_booking_end(request, template_id, standing_id):
    clinic = request.clinic
    template = selectors.template_get(clinic=clinic, template_id=template_id)
    standing = selectors.standing_booking_get(clinic=clinic, template=template, standing_id=standing_id)
    try:
        cancelled = services.standing_booking_end(clinic=clinic, actor=request.membership, standing=standing)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Standing booking ended; {cancelled} upcoming bookings cancelled.")
    return redirect("template_detail", clinic_slug=clinic.slug, template_id=template.pk)


# --- One class --------------------------------------------------------------------------------


@clinic_view("schedule.view")
def occurrence_detail(request, occurrence_id):
    clinic = request.clinic
    occurrence = selectors.occurrence_get(clinic=clinic, occurrence_id=occurrence_id)
    return _render_occurrence(request, occurrence)


def _render_occurrence(request, occurrence, *, booking_form=None, cancel_form=None):
    clinic = request.clinic
    roster = list(selectors.occurrence_roster(clinic=clinic, occurrence=occurrence))
    audit.record_list_access(
        clinic=clinic, actor=request.user, model=Booking, request=request, object_ids=[b.pk for b in roster],
        detail=f"Bookings of {occurrence}",
    )  # fmt: skip
    can_book = has_permission(request.membership, "booking.manage")
    is_open = occurrence.status == Occurrence.Status.SCHEDULED and occurrence.starts_at > timezone.now()
    if can_book and is_open and booking_form is None:
        booking_form = forms.BookingForm(
            enrollments=selectors.bookable_enrollments(clinic=clinic, occurrence=occurrence)
        )
    context = {
        "occurrence": occurrence,
        "booked": [b for b in roster if b.status == Booking.Status.BOOKED],
        "waitlisted": [b for b in roster if b.status == Booking.Status.WAITLISTED],
        "cancelled": [b for b in roster if b.status not in (Booking.Status.BOOKED, Booking.Status.WAITLISTED)],
        "can_book": can_book and is_open,
        "can_cancel_class": has_permission(request.membership, "schedule.manage") and is_open,
        "booking_form": booking_form,
        "cancel_form": cancel_form or forms.CancelOccurrenceForm(),
        "late_cutoff": occurrence.starts_at - datetime.timedelta(hours=clinic.late_cancel_hours),
        "now": timezone.now(),
    }
    return render(request, "scheduling/occurrence_detail.html", context)


@require_POST
@clinic_view("booking.manage")
def booking_create(request, occurrence_id):
    clinic = request.clinic
    occurrence = selectors.occurrence_get(clinic=clinic, occurrence_id=occurrence_id)
    enrollments = selectors.bookable_enrollments(clinic=clinic, occurrence=occurrence)
    form = forms.BookingForm(request.POST, enrollments=enrollments)
    if not form.is_valid():
        return _render_occurrence(request, occurrence, booking_form=form)
    enrollment = form.cleaned_data["enrollment"]
    try:
        booking, warnings = services.booking_create(
            clinic=clinic, actor=request.membership, occurrence=occurrence, enrollment=enrollment,
            waitlist=form.cleaned_data["waitlist"], is_makeup=form.cleaned_data["is_makeup"],
        )  # fmt: skip
    except ValidationError as error:
        attach_errors(form, error)
        return _render_occurrence(request, occurrence, booking_form=form)
    name = f"{enrollment.patient.first_name} {enrollment.patient.last_name}"
    if booking.status == Booking.Status.WAITLISTED:
        messages.success(request, f"The class is full; {name} is on the waitlist.")
    else:
        messages.success(request, f"{name} is booked.")
    _warn(request, warnings)
    return _occurrence_redirect(request, occurrence)


@require_POST
@clinic_view("booking.manage")
def booking_cancel(request, booking_id):
    booking = selectors.booking_get(membership=request.membership, booking_id=booking_id)
    form = forms.CancelBookingForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        booking = services.booking_cancel(
            clinic=request.clinic, actor=request.membership, booking=booking, reason=reason
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        late = " (late: inside the notice period)" if booking.status == Booking.Status.LATE_CANCELLED else ""
        messages.success(request, f"Booking cancelled{late}.")
    return _occurrence_redirect(request, booking.occurrence)


@require_POST
@clinic_view("schedule.manage")
def occurrence_cancel(request, occurrence_id):
    clinic = request.clinic
    occurrence = selectors.occurrence_get(clinic=clinic, occurrence_id=occurrence_id)
    form = forms.CancelOccurrenceForm(request.POST)
    if not form.is_valid():
        return _render_occurrence(request, occurrence, cancel_form=form)
    try:
        told = services.occurrence_cancel(
            clinic=clinic, actor=request.membership, occurrence=occurrence, reason=form.cleaned_data["reason"]
        )
    except ValidationError as error:
        attach_errors(form, error)
        return _render_occurrence(request, occurrence, cancel_form=form)
    messages.success(request, f"Class cancelled. {told} booked patient{'s' if told != 1 else ''} will be emailed.")
    return _occurrence_redirect(request, occurrence)


@clinic_view("booking.manage")
def appointment_create(request):
    clinic = request.clinic
    form = forms.AppointmentForm(request.POST or None, clinic=clinic, initial={"date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            occurrence, _, warnings = services.appointment_create(
                clinic=clinic, actor=request.membership, enrollment=data["enrollment"],
                data={**data, "starts_at": services.local_start(clinic, data["date"], data["start_time"])},
            )  # fmt: skip
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, "Appointment booked.")
            _warn(request, warnings)
            return _occurrence_redirect(request, occurrence)
    return render(request, "scheduling/appointment_form.html", {"form": form})


# --- Authorizations ---------------------------------------------------------------------------


@clinic_view("authorization.view")
def authorization_list(request):
    clinic = request.clinic
    show_all = request.GET.get("show") == "all"
    today = timezone.localdate()
    if show_all:
        authorizations = selectors.authorizations_of_clinic(clinic=clinic)
    else:
        authorizations = selectors.authorizations_needing_attention(clinic=clinic, today=today)
    page = Paginator(authorizations, 25).get_page(request.GET.get("page"))
    audit.record_list_access(
        clinic=clinic, actor=request.user, model=Authorization, request=request, object_ids=[a.pk for a in page],
        detail=f"Authorizations ({'all' if show_all else 'needing attention'}), page {page.number}",
    )  # fmt: skip
    return render(
        request, "scheduling/authorizations.html",
        {"page": page, "show_all": show_all, "today": today, "soon": today + datetime.timedelta(days=14),
         "can_manage": has_permission(request.membership, "authorization.manage")},
    )  # fmt: skip


@clinic_view("authorization.manage")
def authorization_edit(request, authorization_id=None):
    clinic = request.clinic
    authorization = (
        selectors.authorization_get(clinic=clinic, authorization_id=authorization_id) if authorization_id else None
    )
    form = forms.AuthorizationForm(request.POST or None, instance=authorization, clinic=clinic)
    if request.method == "POST" and form.is_valid():
        try:
            services.authorization_save(
                clinic=clinic, actor=request.membership, data=form.cleaned_data,
                enrollment=form.cleaned_data.get("enrollment"), authorization=authorization,
            )  # fmt: skip
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, "Authorization saved.")
            return redirect("authorization_list", clinic_slug=clinic.slug)
    if authorization and request.method == "GET":
        audit.record_access(clinic=clinic, actor=request.user, obj=authorization, request=request, detail="Edit form")
    return render(request, "scheduling/authorization_form.html", {"form": form, "authorization": authorization})
