from django.urls import path

from outcomes import progress_views

# Mounted under /c/<clinic_slug>/ by clinic/urls.py.
clinic_patterns = [
    path(
        "patients/<int:patient_id>/enrollments/<int:enrollment_id>/progress/",
        progress_views.progress_detail,
        name="progress_detail",
    ),
]
