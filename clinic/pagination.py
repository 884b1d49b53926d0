"""The API's pagination (settings.REST_FRAMEWORK), in a module of its own: DRF imports it while it loads its
generic views, before clinic.api (which builds on them) could be imported."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """Pages are numbered from 1. Any other page value is a 400, where DRF would read "last" as the last
    page and an empty value as the first; a page past the end is a 404."""

    last_page_strings = ()
    invalid_page_message = "No such page."

    def get_page_number(self, request, paginator):
        page = request.query_params.get(self.page_query_param)
        if page is None:
            return 1
        if not (page.isascii() and page.isdigit() and int(page) >= 1):
            raise ValidationError({self.page_query_param: ["A page number is a whole number from 1."]})
        return page

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
