"""HTML to PDF with WeasyPrint, fetching nothing from the network or from outside the static files.

A report's HTML holds text typed by people (a comment, a patient's name): an `<img src="http://…">` or a
`url(file:///etc/passwd)` in it must not make the worker open a connection or read a file. The fetcher
below answers `data:` URLs, and `file:` URLs that resolve inside the project's static directory (the
print stylesheet, fonts); anything else is refused and WeasyPrint renders without it.
"""

import logging
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from weasyprint import HTML
from weasyprint.urls import URLFetcher

logger = logging.getLogger("medfit.pdf")


def static_dir() -> Path:
    return Path(settings.STATICFILES_DIRS[0]).resolve()


class StaticOnlyFetcher(URLFetcher):
    """`data:` and the project's static files; every other URL is an error (WeasyPrint skips the resource)."""

    def __init__(self):
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False, timeout=1)

    def fetch(self, url, headers=None):
        scheme = url.split(":", 1)[0].lower()
        if scheme == "file":
            path = Path(unquote(urlsplit(url).path)).resolve()
            if not path.is_relative_to(static_dir()) or not path.is_file():
                logger.warning("pdf: refused a file outside the static files")
                raise ValueError("Only the project's static files may be read.")
        elif scheme != "data":
            # The URL itself may carry patient data (a query string): log the scheme only.
            logger.warning("pdf: refused a %s URL", scheme[:10])
            raise ValueError("The PDF renderer fetches nothing from the network.")
        return super().fetch(url, headers)


def render_pdf(html: str) -> bytes:
    """The PDF of `html`. Relative URLs (`css/report-print.css`) resolve inside the static directory."""
    base_url = static_dir().as_uri() + "/"
    return HTML(string=html, base_url=base_url, url_fetcher=StaticOnlyFetcher()).write_pdf()
