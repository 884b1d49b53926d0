from django.urls import path

from referrals import views

# Mounted under /c/<clinic_slug>/ by clinic/urls.py.
clinic_patterns = [
    path("referrals/", views.referral_queue, name="referral_queue"),
    path("referrals/new/", views.referral_create, name="referral_create"),
    path("referrals/<int:referral_id>/", views.referral_detail, name="referral_detail"),
    path("referrals/<int:referral_id>/edit/", views.referral_edit, name="referral_edit"),
    path("referrals/<int:referral_id>/status/", views.referral_set_status, name="referral_set_status"),
    path("referrals/<int:referral_id>/accept/", views.referral_accept, name="referral_accept"),
    path("referrals/<int:referral_id>/override/", views.referral_override, name="referral_override"),
    path("referrals/<int:referral_id>/link-patient/", views.referral_link_patient, name="referral_link_patient"),
    path("referrals/<int:referral_id>/discharge/", views.enrollment_discharge, name="enrollment_discharge"),
    path(
        "referrals/<int:referral_id>/attachments/", views.referral_attachment_upload, name="referral_attachment_upload"
    ),
    path(
        "referrals/<int:referral_id>/attachments/<int:attachment_id>/",
        views.referral_attachment_download,
        name="referral_attachment_download",
    ),
    path("providers/", views.provider_list, name="provider_list"),
    path("providers/new/", views.provider_edit, name="provider_create"),
    path("providers/<int:provider_id>/", views.provider_edit, name="provider_edit"),
    path("programs/", views.program_list, name="program_list"),
    path("programs/new/", views.program_edit, name="program_create"),
    path("programs/<int:program_id>/", views.program_edit, name="program_edit"),
    path("portal/refer/", views.portal_refer, name="portal_refer"),
    path("my-patients/", views.my_patients, name="my_patients"),
]

urlpatterns = [
    path("portal/", views.portal_home, name="portal_home"),
]
