from django.urls import path

from outcomes import catalog_views, views

AS = "patients/<int:patient_id>/enrollments/<int:enrollment_id>/assessments/"

# Mounted under /c/<clinic_slug>/ by clinic/urls.py.
clinic_patterns = [
    path(AS, views.assessment_list, name="assessment_list"),
    path(AS + "new/<int:battery_id>/", views.assessment_new, name="assessment_new"),
    path(AS + "<int:assessment_id>/", views.assessment_detail, name="assessment_detail"),
    path(AS + "<int:assessment_id>/edit/", views.assessment_edit, name="assessment_edit"),
    path("alerts/<int:alert_id>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
    path("measures/", catalog_views.measure_list, name="measure_list"),
    path("measures/new/", catalog_views.measure_create, name="measure_create"),
    path("measures/<int:measure_id>/", catalog_views.measure_edit, name="measure_edit"),
    path("batteries/", catalog_views.battery_list, name="battery_list"),
    path("batteries/<int:battery_id>/", catalog_views.battery_edit, name="battery_edit"),
    path("batteries/<int:battery_id>/copy/", catalog_views.battery_copy, name="battery_copy"),
]
