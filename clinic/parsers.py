"""The API's JSON parser: DRF's, refusing with a 400 documents nested deeper than MAX_DEPTH or holding a NUL.

Python's JSON decoder recurses once per level, so a body of a thousand "[" raised RecursionError (a 500),
and a few hundred levels reached the serializers and the FHIR validation, which recurse too. No MedFit
resource (a FHIR Bundle included) comes near this depth.

PostgreSQL stores NUL neither in text nor in jsonb. Serializers' text fields refuse it, but the FHIR intake
and JSON fields take strings without one, so the parser refuses a NUL anywhere, in a key or a value.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 100
TOO_DEEP = f"JSON parse error - the document is nested deeper than {MAX_DEPTH} levels."
HOLDS_NUL = "JSON parse error - the document holds a null character (\\u0000), which cannot be stored."


def problem_of(value, max_depth: int) -> str | None:
    """TOO_DEEP if objects and arrays in `value` nest more than `max_depth` levels (the outermost is level 1),
    HOLDS_NUL if a key or string holds a NUL, else None. Walks with a list, not by recursion, so a deep
    document cannot overflow the stack here."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return HOLDS_NUL
        if isinstance(item, dict | list):
            if depth > max_depth:
                return TOO_DEEP
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return None


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        problem = problem_of(data, MAX_DEPTH)
        if problem:
            raise ParseError(problem)
        return data
