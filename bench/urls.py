"""The application's URLs plus two reference pages, which every page's time is compared with.

The trivial view still goes through the whole middleware stack (session, authentication, idle
timeout, CSP, audit context…), so "ratio to trivial" shows what a page adds on top of that.
The page shell is what every clinic page pays besides its own work: the clinic and the member resolved
(`clinic_view`), the access entry a page view writes, and `base.html` with an empty content block.
"""

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from clinic import audit
from clinic.models import Patient
from clinic.tenancy import clinic_view

SHELL = engines["django"].from_string('{% extends "base.html" %}{% block head_title %}Page shell{% endblock %}')


def trivial(request):
    return HttpResponse("ok")


@clinic_view()
def page_shell(request):
    audit.record_list_access(clinic=request.clinic, actor=request.user, model=Patient, object_ids=[], request=request)
    return HttpResponse(SHELL.render({}, request))


urlpatterns = [
    path("bench-trivial/", trivial, name="bench_trivial"),
    path("c/<slug:clinic_slug>/bench-shell/", page_shell, name="bench_shell"),
    path("", include("clinic.urls")),
]
