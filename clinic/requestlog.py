"""One log line per request: clinic slug, user id, path *template*, status, duration.

The concrete path is never logged: it can carry identifiers, and logs must hold no patient data.
"""

import http.client
import logging
import time

from django.db import InterfaceError, OperationalError

logger = logging.getLogger("medfit.request")


def path_template(request) -> str:
    match = getattr(request, "resolver_match", None)
    return f"/{match.route}" if match else "<unmatched>"


def user_id(request) -> int | None:
    user = getattr(request, "user", None)
    try:
        return user.pk if user is not None and user.is_authenticated else None
    except (OperationalError, InterfaceError):
        return None  # the database is down, so the session could not be read; still log the request


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        if not request.path.startswith("/static/"):
            match = request.resolver_match
            fields = {
                "clinic": match.kwargs.get("clinic_slug", "") if match else "",
                "user_id": user_id(request),
                "method": request.method,
                "path": path_template(request),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            logger.info(
                "%(method)s %(path)s %(status)s %(duration_ms)sms clinic=%(clinic)s user=%(user_id)s",
                fields,
                extra=fields,
            )
        return response


class PathTemplateFilter(logging.Filter):
    """For `django.request`: Django's "Internal Server Error: /c/alpha/patients/123/" names the concrete
    URL, in its message and in the request it attaches. Keep the record and its traceback (the only
    one for an error raised in a middleware), but with the path template instead."""

    def filter(self, record):
        if "request" in record.__dict__:  # not yet rewritten (dictConfig may have added this filter twice)
            request = record.__dict__.pop("request")
            status = getattr(record, "status_code", 500)
            record.path = path_template(request)
            record.msg, record.args = "%s: %s", (http.client.responses.get(status, "Error"), record.path)
        return True


class TemplateLookupFilter(logging.Filter):
    """For `django.template`: its DEBUG line for a variable that did not resolve carries the exception,
    whose message is the repr of the object looked in: the request with its full URL (a search names a
    patient), or a patient. Keep the line, which names the variable and template, without the exception."""

    def filter(self, record):
        record.exc_info, record.exc_text = None, None
        return True
