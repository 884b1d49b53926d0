"""`Cache-Control: no-store` on every page and API answer that can carry patient data.

A browser or a proxy must not keep a copy of a chart or an API answer on disk, where the next person
at a shared clinic computer (or the back button after sign-out) could find it. Chosen by path, not by
the signed-in user, so that deciding never reads the session from the database (which may be down).
Static files are answered by WhiteNoise above this middleware and keep their long-lived caching.
"""

PATIENT_DATA_PREFIXES = ("/c/", "/portal/", "/api/")


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # A view that chose its own caching (exports, allauth's never_cache) keeps it.
        if request.path.startswith(PATIENT_DATA_PREFIXES) and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response
