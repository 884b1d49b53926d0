"""One log line per request: clinic slug, user id, path *template*, status, duration.

The concrete path is never logged: it can carry identifiers, and logs must hold no patient data.
"""

import logging
import time

from django.core.exceptions import PermissionDenied
from django.http import Http404

logger = logging.getLogger("medfit.request")


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        if not request.path.startswith("/static/"):
            match = request.resolver_match
            user = getattr(request, "user", None)
            fields = {
                "clinic": match.kwargs.get("clinic_slug", "") if match else "",
                "user_id": user.pk if user is not None and user.is_authenticated else None,
                "method": request.method,
                "path": f"/{match.route}" if match else "<unmatched>",
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            logger.info(
                "%(method)s %(path)s %(status)s %(duration_ms)sms clinic=%(clinic)s user=%(user_id)s",
                fields,
                extra=fields,
            )
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, Http404 | PermissionDenied):
            return None  # an ordinary answer (every other clinic's id is a 404), not an error
        match = request.resolver_match
        logger.exception(
            "unhandled exception",
            extra={"path": f"/{match.route}" if match else "<unmatched>", "error": type(exception).__name__},
        )
