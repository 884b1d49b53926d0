from django.urls import path

from scheduling import floorsheet_views as views

# Mounted under /c/<clinic_slug>/ by clinic/urls.py.
clinic_patterns = [
    path("today/", views.today, name="today"),
    path("classes/<int:occurrence_id>/floor/", views.floor_sheet, name="floor_sheet"),
    path("classes/<int:occurrence_id>/floor/staff/", views.floor_sheet_staff, name="floor_sheet_staff"),
    path("classes/<int:occurrence_id>/floor/rows/<int:booking_id>/", views.floor_row_save, name="floor_row_save"),
    path("safety-flags/<int:flag_id>/override/", views.safety_flag_override, name="safety_flag_override"),
]
