from django.urls import path

from billing import dprp_views, views
from billing.kpis import views as kpi_views
from billing.packets import urls as packet_urls

# Mounted under /c/<clinic_slug>/ by clinic/urls.py.
clinic_patterns = [
    path("billing/", views.claim_line_list, name="claim_line_list"),
    path("billing/derive/", views.claim_lines_refresh, name="claim_lines_refresh"),
    path("billing/export/", views.batch_export, name="batch_export"),
    path("billing/batches/", views.batch_list, name="batch_list"),
    path("billing/batches/<int:batch_id>/", views.batch_detail, name="batch_detail"),
    path("billing/batches/<int:batch_id>/claims.csv", views.batch_download, name="batch_download"),
    path("billing/batches/<int:batch_id>/void/", views.batch_void, name="batch_void"),
    path("billing/payers/", views.payer_list, name="payer_list"),
    path("billing/payers/new/", views.payer_edit, name="payer_create"),
    path("billing/payers/<int:payer_id>/", views.payer_edit, name="payer_edit"),
    path("billing/fees/", views.fee_list, name="fee_list"),
    path("billing/fees/new/", views.fee_edit, name="fee_create"),
    path("billing/fees/<int:fee_id>/", views.fee_edit, name="fee_edit"),
    path("billing/dprp/", dprp_views.dprp_export_list, name="dprp_export_list"),
    path("billing/dprp/<int:dprp_export_id>/", dprp_views.dprp_export_detail, name="dprp_export_detail"),
    path("billing/dprp/<int:dprp_export_id>/accept/", dprp_views.dprp_export_accept, name="dprp_export_accept"),
    path("billing/dprp/<int:dprp_export_id>/dprp.csv", dprp_views.dprp_export_download, name="dprp_export_download"),
    path("billing/rules/", views.rule_list, name="billing_rule_list"),
    path("billing/kpis/", kpi_views.kpi_page, name="billing_kpis"),
    # ?table=<key> and the page's filters, as the KPI dashboard's exports
    path("billing/kpis/table.csv", kpi_views.kpi_table_csv, name="billing_kpi_table_csv"),
    path("billing/kpis/table.xlsx", kpi_views.kpi_table_xlsx, name="billing_kpi_table_xlsx"),
    path(
        "patients/<int:patient_id>/enrollments/<int:enrollment_id>/medical-necessity/",
        views.necessity_notes,
        name="necessity_notes",
    ),
    path("patients/<int:patient_id>/coverage/new/", views.coverage_edit, name="coverage_create"),
    path("patients/<int:patient_id>/coverage/<int:coverage_id>/", views.coverage_edit, name="coverage_edit"),
    *packet_urls.clinic_patterns,
]
