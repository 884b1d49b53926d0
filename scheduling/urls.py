from django.urls import path

from scheduling import views

# Mounted under /c/<clinic_slug>/ by clinic/urls.py.
clinic_patterns = [
    path("schedule/", views.calendar, name="schedule_calendar"),
    path("schedule/classes/", views.template_list, name="template_list"),
    path("schedule/classes/new/", views.template_edit, name="template_create"),
    path("schedule/classes/<int:template_id>/", views.template_detail, name="template_detail"),
    path("schedule/classes/<int:template_id>/edit/", views.template_edit, name="template_edit"),
    path(
        "schedule/classes/<int:template_id>/standing/<int:standing_id>/end/",
        views.standing_booking_end,
        name="standing_booking_end",
    ),
    path("schedule/occurrences/<int:occurrence_id>/", views.occurrence_detail, name="occurrence_detail"),
    path("schedule/occurrences/<int:occurrence_id>/book/", views.booking_create, name="booking_create"),
    path("schedule/occurrences/<int:occurrence_id>/cancel/", views.occurrence_cancel, name="occurrence_cancel"),
    path("schedule/bookings/<int:booking_id>/cancel/", views.booking_cancel, name="booking_cancel"),
    path("schedule/appointments/new/", views.appointment_create, name="appointment_create"),
    path("authorizations/", views.authorization_list, name="authorization_list"),
    path("authorizations/new/", views.authorization_edit, name="authorization_create"),
    path("authorizations/<int:authorization_id>/", views.authorization_edit, name="authorization_edit"),
]
