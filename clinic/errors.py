"""Error answers: friendly 404 and 500 pages, JSON on the API, and a 503 while the database is down.

While PostgreSQL is unreachable every page answers "temporarily unavailable" (503) instead of a
traceback, and the app recovers by itself when the database returns (conn_health_checks).
"""

import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from clinic.requestlog import path_template

logger = logging.getLogger("medfit.errors")

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def api_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"message": message, "errors": {}}, status=status)


def database_unavailable(request) -> HttpResponse:
    if request.path == "/healthz":
        from clinic.health import health_report

        response = JsonResponse(health_report(), status=503)
    elif is_api(request):
        response = api_error("The service is temporarily unavailable. Please try again in a minute.", 503)
    else:
        # No request context: the context processors would query the database that is down.
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@receiver(got_request_exception)
def note_database_error(sender, request=None, **kwargs):
    """Django turns an error raised in a middleware (the session or user lookup) into its 500 before
    the middleware above sees it; this marks the request so DatabaseUnavailableMiddleware can answer."""
    if request is not None and isinstance(sys.exception(), DATABASE_ERRORS):
        request.database_unavailable = True


class DatabaseUnavailableMiddleware:
    """Answers 503 when the database is unreachable, from a view or from a middleware below this one.
    Sits high in MIDDLEWARE (above sessions and authentication), and applies with DEBUG on too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "database_unavailable", False):
            return database_unavailable(request)
        return response

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        logger.error("database unavailable", extra={"path": path_template(request), "error": type(exception).__name__})
        return database_unavailable(request)


def not_found(request, exception):
    if is_api(request):
        return api_error("Not found.", 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api(request):
        return api_error("Something went wrong on our side. It has been logged; please try again.", 500)
    return defaults.server_error(request)  # renders 500.html without the request: nothing can fail twice
