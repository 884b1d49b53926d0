"""A URLconf for tests of error answers: the site's URLs plus views that fail."""

from django.urls import path

from clinic.urls import *  # noqa: F403  (handler404 and handler500 too)
from clinic.urls import urlpatterns as site_urlpatterns


def fail(request, **kwargs):
    raise RuntimeError("a bug")


urlpatterns = [
    path("c/<slug:clinic_slug>/failing/<int:patient_id>/", fail),
    path("api/v1/failing/<int:patient_id>/", fail),
    *site_urlpatterns,
]
