"""The Progress page of an enrollment: /c/<clinic>/patients/<id>/enrollments/<id>/progress/.

Physiologists and admins see every patient's; physicians their own patients' (the same 404 otherwise);
billing has no access.
"""

from django.shortcuts import render

from clinic import audit
from clinic import prescriptions as rx
from clinic.tenancy import clinic_view
from outcomes import charts
from outcomes.progress import enrollment_progress


@clinic_view("progress.view")
def progress_detail(request, patient_id, enrollment_id):
    enrollment = rx.enrollment_get(membership=request.membership, patient_id=patient_id, enrollment_id=enrollment_id)
    progress = enrollment_progress(clinic=request.clinic, enrollment=enrollment, with_prescription=False)
    audit.record_access(
        clinic=request.clinic, actor=request.user, obj=enrollment, request=request,
        detail=f"Progress ({len(progress.measures)} measures)",
    )  # fmt: skip
    trends = [(change, charts.measure_trend_svg(change)) for change in progress.measures if change.points]
    vitals = charts.session_vitals_svg(clinic=request.clinic, enrollment=enrollment)
    return render(
        request,
        "outcomes/progress.html",
        {"enrollment": enrollment, "patient": enrollment.patient, "progress": progress, "trends": trends,
         "vitals_chart": vitals},
    )  # fmt: skip
