from django.urls import path

from outcomes.reports import views

# Mounted under /c/<clinic_slug>/ by clinic/urls.py.
clinic_patterns = [
    path("patients/<int:patient_id>/reports/new/", views.report_create, name="report_create"),
    path("reports/", views.report_inbox, name="report_inbox"),
    path("reports/<int:report_id>/status/", views.report_status, name="report_status"),
    path("reports/<int:report_id>/download/", views.report_download, name="report_download"),
]

# Mounted at the root: the physician's reports from every clinic they belong to.
portal_patterns = [
    path("portal/reports/", views.portal_reports, name="portal_reports"),
]
