"""Refuses query strings holding a NUL character, before any view sees them.

PostgreSQL cannot store or compare NUL in text, so a search term like `?q=%00` reaching a query
raised an error (500). Forms and serializers refuse NUL in the fields they validate, but a query
parameter can reach a query without one (the API's `q`), so every query string is checked here, once.
"""

from django.http import HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string

from clinic.errors import is_api

MESSAGE = "Null characters are not allowed."


def parameters_with_nul(request) -> list[str]:
    """The names of the query parameters with a NUL in their name or any of their values."""
    return [name for name, values in request.GET.lists() if "\x00" in name or any("\x00" in v for v in values)]


class RefuseNulInQueryStringMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        names = parameters_with_nul(request)
        if not names:
            return self.get_response(request)
        if is_api(request):
            # A NUL in a parameter's name is shown as \x00, never sent back raw.
            errors = {name.replace("\x00", "\\x00"): [MESSAGE] for name in names}
            return JsonResponse({"message": "The request has invalid parameters.", "errors": errors}, status=400)
        # Rendered without the request: this answer comes before sessions and authentication.
        return HttpResponseBadRequest(render_to_string("400.html"))
