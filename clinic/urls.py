from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from billing import api as billing_api
from billing import urls as billing_urls
from billing.kpis import api as billing_kpi_api
from billing.packets import api as packet_api
from clinic import api, errors, prescription_api, prescription_views, views
from clinic.treatment_plans import api as plan_api
from clinic.treatment_plans import views as plan_views
from outcomes import api as outcomes_api
from outcomes import progress_api
from outcomes import progress_urls as outcomes_progress_urls
from outcomes import urls as outcomes_urls
from outcomes.kpis import api as kpi_api
from outcomes.kpis import urls as kpi_urls
from outcomes.reports import api as reports_api
from outcomes.reports import urls as reports_urls
from referrals import api as referrals_api
from referrals import urls as referrals_urls
from scheduling import api as scheduling_api
from scheduling import floorsheet_api, reminder_api
from scheduling import floorsheet_urls as scheduling_floorsheet_urls
from scheduling import urls as scheduling_urls

# The Django admin signs in through allauth, so it gets the same rate limits and MFA.
admin.autodiscover()
admin.site.login = secure_admin_login(admin.site.login)

# Friendly pages in the site's layout; JSON under /api/.
handler404 = errors.not_found
handler500 = errors.server_error

router = SimpleRouter(trailing_slash=True)
router.register("patients", api.PatientViewSet, basename="api-patient")
router.register("referrals", referrals_api.ReferralViewSet, basename="api-referral")
router.register("providers", referrals_api.ReferringProviderViewSet, basename="api-provider")
router.register("programs", referrals_api.ProgramViewSet, basename="api-program")
router.register("class-templates", scheduling_api.ClassTemplateViewSet, basename="api-class-template")
router.register("occurrences", scheduling_api.OccurrenceViewSet, basename="api-occurrence")
router.register("bookings", scheduling_api.BookingViewSet, basename="api-booking")
router.register("standing-bookings", scheduling_api.StandingBookingViewSet, basename="api-standing-booking")
router.register("authorizations", scheduling_api.AuthorizationViewSet, basename="api-authorization")
router.register("reminders", reminder_api.ReminderViewSet, basename="api-reminder")
router.register("billing/claim-lines", billing_api.ClaimLineViewSet, basename="api-claim-line")
router.register("billing/batches", billing_api.ClaimBatchViewSet, basename="api-claim-batch")
router.register("billing/payers", billing_api.PayerViewSet, basename="api-payer")
router.register("billing/coverages", billing_api.CoverageViewSet, basename="api-coverage")
router.register("billing/fees", billing_api.FeeViewSet, basename="api-fee")
router.register("billing/dprp-exports", billing_api.DprpExportViewSet, basename="api-dprp-export")
router.register("billing/packets", packet_api.PacketRequestViewSet, basename="api-packet-request")
router.register(
    r"enrollments/(?P<enrollment_id>[0-9]+)/prescriptions",
    prescription_api.PrescriptionViewSet,
    basename="api-prescription",
)

router.register("treatment-plans", plan_api.TreatmentPlanViewSet, basename="api-treatment-plan")

RX = "patients/<int:patient_id>/enrollments/<int:enrollment_id>/prescription/"
PLAN = "patients/<int:patient_id>/enrollments/<int:enrollment_id>/plan/"
router.register("session-logs", floorsheet_api.SessionLogViewSet, basename="api-session-log")
router.register("measures", outcomes_api.MeasureViewSet, basename="api-measure")
router.register("batteries", outcomes_api.BatteryViewSet, basename="api-battery")
router.register("assessments", outcomes_api.AssessmentViewSet, basename="api-assessment")
router.register("observations", outcomes_api.ObservationViewSet, basename="api-observation")
router.register("report-requests", reports_api.ReportRequestViewSet, basename="api-report-request")

clinic_patterns = [
    path("", views.clinic_home, name="clinic_home"),
    path("patients/", views.patient_list, name="patient_list"),
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/export.csv", views.patient_export, name="patient_export"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient_detail"),
    path("patients/<int:patient_id>/edit/", views.patient_edit, name="patient_edit"),
    path("patients/<int:patient_id>/status/", views.patient_set_status, name="patient_set_status"),
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/invite/", views.staff_invite, name="staff_invite"),
    path("staff/<int:membership_id>/", views.staff_edit, name="staff_edit"),
    path("staff/<int:membership_id>/deactivate/", views.staff_deactivate, name="staff_deactivate"),
    path("staff/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("settings/", views.clinic_settings, name="clinic_settings"),
    path("tokens/", views.api_tokens, name="api_tokens"),
    path("tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path(RX, prescription_views.prescription_detail, name="prescription_detail"),
    path(RX + "new/", prescription_views.prescription_edit, name="prescription_edit"),
    path(RX + "preview/", prescription_views.prescription_preview, name="prescription_preview"),
    path(RX + "history/", prescription_views.prescription_history, name="prescription_history"),
    path(RX + "v<int:version>/", prescription_views.prescription_version, name="prescription_version"),
    path(RX + "v<int:version>/print/", prescription_views.prescription_print, name="prescription_print"),
    path(PLAN, plan_views.plan_list, name="plan_list"),
    path(PLAN + "draft/", plan_views.plan_draft, name="plan_draft"),
    path(PLAN + "review/", plan_views.plan_review, name="plan_review"),
    path(PLAN + "v<int:version>/", plan_views.plan_version, name="plan_version"),
    path(PLAN + "v<int:version>/print/", plan_views.plan_print, name="plan_print"),
    path("portal/plans/", plan_views.portal_plans, name="portal_plans"),
    path("portal/plans/<int:plan_id>/sign/", plan_views.portal_sign, name="portal_sign"),
    path("treatment-plans/due/", plan_views.plans_due, name="plans_due"),
    *referrals_urls.clinic_patterns,
    *scheduling_urls.clinic_patterns,
    *scheduling_floorsheet_urls.clinic_patterns,
    *billing_urls.clinic_patterns,
    *outcomes_progress_urls.clinic_patterns,
    *outcomes_urls.clinic_patterns,
    *reports_urls.clinic_patterns,
    *kpi_urls.clinic_patterns,
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("session/keepalive/", views.session_keepalive, name="session_keepalive"),
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("c/<slug:clinic_slug>/", include(clinic_patterns)),
    path("api/v1/clinics/<slug:clinic_slug>/", include(router.urls)),
    path(
        "api/v1/clinics/<slug:clinic_slug>/fhir/referral-bundles/",
        referrals_api.FhirReferralIntakeView.as_view(),
        name="api-fhir-referral-intake",
    ),
    path(
        "api/v1/clinics/<slug:clinic_slug>/enrollments/<int:enrollment_id>/progress/",
        progress_api.EnrollmentProgressView.as_view(),
        name="api-enrollment-progress",
    ),
    path("api/v1/clinics/<slug:clinic_slug>/kpis/", kpi_api.KpiView.as_view(), name="api-kpis"),
    path(
        "api/v1/clinics/<slug:clinic_slug>/billing/kpis/",
        billing_kpi_api.BillingKpiView.as_view(),
        name="api-billing-kpis",
    ),
    path("", include(referrals_urls)),
    *reports_urls.portal_patterns,
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api_docs"),
    # The sign-in email is the identity invitations and referrer records are matched on: staff change
    # it (Django admin), people don't.
    path("accounts/email/", views.not_found),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
