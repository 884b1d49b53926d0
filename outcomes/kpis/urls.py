from django.urls import path

from outcomes.kpis import views

clinic_patterns = [
    path("dashboard/", views.dashboard, name="kpi_dashboard"),
    # ?table=<key> and the dashboard's filters: a table's name is no object of the clinic's, so not in the path
    path("dashboard/table.csv", views.dashboard_table_csv, name="kpi_table_csv"),
    path("dashboard/table.xlsx", views.dashboard_table_xlsx, name="kpi_table_xlsx"),
    path("dashboard/snapshot.pdf", views.dashboard_pdf, name="kpi_dashboard_pdf"),
    path("dashboard/exports/", views.observation_export_create, name="kpi_export_create"),
    path("dashboard/exports/<int:export_id>/", views.observation_export_status, name="kpi_export_status"),
    path("dashboard/exports/<int:export_id>/download/", views.observation_export_download, name="kpi_export_download"),
]
