"""The header's links, which every page renders: built in Python from the table below.

In the template each link was an `{% if %}`, a `{% url %}` and an `aria-current` test: about 1.5 ms of a
12 ms page for an administrator (issue 11). Here the links are reversed once per clinic and process, and the
member's permissions pick among them.
"""

import functools

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

# (permission, route, label, is this link the current page's: given the route name of the page and the member's
# permissions). The order is the header's.
CLINIC_LINKS = [
    (None, "clinic_home", "Home", lambda page, can: page == "clinic_home"),
    ("today.view", "today", "Today", lambda page, can: page in ("today", "floor_sheet")),
    ("patient.view_all", "patient_list", "Patients", lambda page, can: page.startswith("patient_")),
    (
        "referral.view_all",
        "referral_queue",
        "Referrals",
        lambda page, can: "referral" in page or "provider" in page,
    ),
    (
        "schedule.view",
        "schedule_calendar",
        "Schedule",
        lambda page, can: (
            page == "schedule_calendar"
            or any(part in page for part in ("template", "occurrence", "authorization", "appointment"))
        ),
    ),
    (
        "referral.portal",
        "my_patients",
        "My patients",
        # A physician without the clinic's lists reaches a referral and a chart from "My patients".
        lambda page, can: (
            page == "my_patients"
            or (page == "referral_detail" and "referral.view_all" not in can)
            or (page == "patient_detail" and "patient.view_all" not in can)
        ),
    ),
    ("referral.portal", "portal_refer", "Refer a patient", lambda page, can: page == "portal_refer"),
    ("report.view", "report_inbox", "Reports", lambda page, can: page == "report_inbox"),
    (
        "billing.view",
        "claim_line_list",
        "Billing",
        lambda page, can: (
            page == "claim_line_list" or any(part in page for part in ("batch", "payer", "fee", "billing"))
        ),
    ),
    ("itp.sign", "portal_plans", "Plans to sign", lambda page, can: page in ("portal_plans", "portal_sign")),
    ("itp.due", "plans_due", "ITPs due", lambda page, can: page == "plans_due"),
    ("program.view", "program_list", "Programs", lambda page, can: "program" in page),
    ("kpi.view", "kpi_dashboard", "Dashboard", lambda page, can: page.startswith("kpi_")),
    ("staff.manage", "staff_list", "Staff", lambda page, can: "staff" in page),
    ("audit.view", "audit_list", "Audit trail", lambda page, can: "audit" in page),
    ("clinic.settings", "clinic_settings", "Settings", lambda page, can: page == "clinic_settings"),
]


@functools.lru_cache(maxsize=1024)
def _clinic_link_html(clinic_slug: str, script_prefix: str, urlconf) -> tuple[tuple[str, str], ...]:
    """Each link of one clinic as HTML, plain and marked current: written once per clinic and process (escaping
    15 links on every page was 0.15 ms, issue 11). The prefix and URLconf are part of the key because `reverse`
    depends on them."""
    links = []
    for _, route, label, _ in CLINIC_LINKS:
        url = reverse(route, args=[clinic_slug])
        links.append(
            (
                format_html('<a href="{}">{}</a>', url, label),
                format_html('<a href="{}" aria-current="page">{}</a>', url, label),
            )
        )
    return tuple(links)


@register.simple_tag(takes_context=True)
def clinic_links(context):
    """The clinic's navigation links the member may open, the current page's marked."""
    request = context["request"]
    can = context.get("can", set())
    page = (request.resolver_match.url_name if request.resolver_match else "") or ""
    html = _clinic_link_html(request.clinic.slug, get_script_prefix(), get_urlconf())
    links = []
    for (plain, current), (permission, _, _, is_current) in zip(html, CLINIC_LINKS, strict=True):
        if permission is not None and permission not in can:
            continue
        links.append(current if is_current(page, can) else plain)
    return mark_safe("".join(links))  # noqa: S308 (each link escaped by format_html)


@functools.lru_cache(maxsize=1024)
def _url(route: str, args: tuple, script_prefix: str, urlconf) -> str:
    return reverse(route, args=args)


@register.simple_tag
def url_once(route: str, *args):
    """`{% url %}` for the links every page repeats (the header's): reversed once per process and arguments
    (six `{% url %}` cost the header about 0.15 ms a page, issue 11). Escaped like `{% url %}`'s output."""
    return _url(route, args, get_script_prefix(), get_urlconf())


@functools.lru_cache(maxsize=256)
def _static(path: str) -> str:
    return static(path)


@receiver(setting_changed)
def _static_settings_changed(setting, **kwargs):
    if setting in ("STATIC_URL", "STORAGES", "STATIC_ROOT"):
        _static.cache_clear()


@register.simple_tag
def static_once(path: str):
    """`{% static %}` for the assets every page links (the base page's four): looked up once per process
    (0.15 ms a page, issue 11). Escaped like `{% static %}`'s output."""
    return _static(path)
