"""The application's URLs plus one trivial view, the reference every page's time is compared with.

The trivial view still goes through the whole middleware stack (session, authentication, idle
timeout, CSP, audit context…), so "ratio to trivial" shows what a page adds on top of that.
"""

from django.http import HttpResponse
from django.urls import include, path


def trivial(request):
    return HttpResponse("ok")


urlpatterns = [
    path("bench-trivial/", trivial, name="bench_trivial"),
    path("", include("clinic.urls")),
]
