from django.urls import path

from billing.packets import views

# Mounted under /c/<clinic_slug>/ by clinic/urls.py (through billing/urls.py).
clinic_patterns = [
    path("billing/packets/", views.packet_list, name="packet_list"),
    path("billing/packets/new/", views.packet_create, name="packet_create"),
    path("billing/packets/batch/", views.batch_create, name="batch_create"),
    path("billing/packets/<int:packet_id>/status/", views.packet_status, name="packet_status"),
    path("billing/packets/<int:packet_id>/download/", views.packet_download, name="packet_download"),
    path("billing/packets/<int:packet_id>/packet.csv", views.packet_download_csv, name="packet_download_csv"),
]
