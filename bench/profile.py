"""Where a hot page's time goes: pyinstrument over in-process requests on the bench data set.

    make bench-profile                      # every page below
    make bench-profile PROFILE_ARGS="--requests 100 --only floor"   # pages whose name contains "floor"

The pages: the page shell (bench/urls.py: what every clinic page pays besides its own work), always
profiled with the trivial view; the patient list, the referral queue, the audit trail and the KPI dashboard
as bench-big's administrator; the claim lines as its billing member; a chart as
its physiologist; "My patients" and an enrollment's progress as its physician (bench/dataset.py's, who sent the
referrals); the floor sheet of bench-floor's class of 20 as its physiologist (bench/floorsheet.py builds it).
Signed in with force_login (bench/measure.py's member_client), through django.test.Client (the whole
middleware stack, as bench/run.py measures), with production's code paths (DEBUG=0, cached templates).
After warm-ups, N requests of each page run under one pyinstrument session per page (1 ms sampling). Every
sample's time goes to the innermost frame that names a part:

    SQL           psycopg (sending the query, waiting for PostgreSQL, reading rows)
    ORM           django/db (building SQL, making model instances)
    templates     django/template and template tags (rendering, variable lookup, filters)
    sessions/auth django/contrib/sessions, django/contrib/auth, allauth
    audit         clinic/audit.py (the access entry a chart read writes)
    forms         django/forms (building forms: Django deep-copies each form's fields)
    other         the rest: middleware, the view, forms, URL resolution

Prints the shares per page and pyinstrument's call tree; saves an HTML profile per page to bench/results/.
"""

import argparse
import sys
from pathlib import Path

from bench.database import configure_django

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = [  # (part, path fragment); the innermost frame that matches names the part
    ("SQL", "/psycopg/"),
    ("ORM", "/django/db/"),
    ("templates", "/django/template/"),
    ("templates", "/templatetags/"),
    ("sessions/auth", "/django/contrib/sessions/"),
    ("sessions/auth", "/django/contrib/auth/"),
    ("sessions/auth", "/allauth/"),
    ("audit", "/clinic/audit.py"),
    ("forms", "/django/forms/"),
    ("other", "/django/core/handlers/base.py"),  # the view: not the auth middleware's, which wraps it
]


def part_of(frame, inherited: str) -> str:
    path = frame.file_path or ""
    return next((part for part, fragment in PARTS if fragment in path), inherited)


def shares(root) -> dict[str, float]:
    """Seconds per part: each frame's own time goes to its own part, or else its caller's."""
    totals: dict[str, float] = {}
    stack = [(root, "other")]
    while stack:
        frame, inherited = stack.pop()
        part = part_of(frame, inherited)
        own = frame.time - sum(child.time for child in frame.children)
        totals[part] = totals.get(part, 0.0) + own
        stack.extend((child, part) for child in frame.children)
    return totals


def profile_page(client, path: str, requests: int, warmups: int):
    from pyinstrument import Profiler

    for _ in range(warmups):
        client.get(path)
    profiler = Profiler(interval=0.001)
    profiler.start()
    for _ in range(requests):
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"profile: {path} answered HTTP {response.status_code} {response.get('Location', '')}")
    profiler.stop()
    return profiler


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=50, help="profiled requests per page (50)")
    parser.add_argument("--warmups", type=int, default=5, help="untimed requests per page first (5)")
    parser.add_argument("--only", default="", help="profile only the pages whose name contains this")
    args = parser.parse_args(argv)
    configure_django()
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse

    from bench import floorsheet, loadplan
    from bench.measure import member_client
    from clinic import rls
    from clinic.models import Clinic, Role
    from referrals.models import Referral

    clinic = Clinic.objects.get(slug="bench-big")  # bench/run.py builds it (make bench)
    if "dashboard" in args.only or not args.only:
        print(f"KPI roll-up of bench-big: {loadplan.kpi_rollup_refresh(clinic)}")  # as beat keeps it
    floor_clinic, occurrence, floor_member = floorsheet.build()
    floor_client = Client()
    floor_client.force_login(floor_member.user)
    with rls.scoped(rls.clinic_scope(clinic.pk)):  # outside a request the application role sees no clinic's rows
        admin, physiologist, physician, billing = (member_client(clinic, role) for role in (
            Role.ADMIN, Role.PHYSIOLOGIST, Role.PHYSICIAN, Role.BILLING))  # fmt: skip
        referral = Referral.objects.filter(
            clinic=clinic, referring_provider__membership__user__email=f"physician@{clinic.slug}.bench",
            enrollment__isnull=False,
        ).order_by("pk").first()  # fmt: skip
    pages = {  # name: (client, route, arguments)
        "trivial view": (admin, "bench_trivial", []),
        "page shell": (admin, "bench_shell", [clinic.slug]),
        "patient list": (admin, "patient_list", [clinic.slug]),
        "referral queue": (admin, "referral_queue", [clinic.slug]),
        "audit trail": (admin, "audit_list", [clinic.slug]),
        "kpi dashboard": (admin, "kpi_dashboard", [clinic.slug]),
        "claim lines": (billing, "claim_line_list", [clinic.slug]),
        "chart": (physiologist, "patient_detail", [clinic.slug, referral.patient_id]),
        "my patients": (physician, "my_patients", [clinic.slug]),
        "progress": (physician, "progress_detail", [clinic.slug, referral.patient_id, referral.enrollment_id]),
        "floor sheet": (floor_client, "floor_sheet", [floor_clinic.slug, occurrence.pk]),
    }
    RESULTS.mkdir(exist_ok=True)
    with override_settings(ROOT_URLCONF="bench.urls"):
        for name, (client, route, arguments) in pages.items():
            if args.only not in name and name not in ("trivial view", "page shell"):
                continue
            path = reverse(route, args=arguments)
            profiler = profile_page(client, path, args.requests, args.warmups)
            root = profiler.last_session.root_frame()
            total = root.time
            per_request = total * 1000 / args.requests
            parts = sorted(shares(root).items(), key=lambda item: -item[1])
            print(f"\n{name} ({path}): {per_request:.1f} ms per request over {args.requests}")
            print("  " + ", ".join(f"{part} {seconds / total:.0%}" for part, seconds in parts))
            if name != "trivial view":
                print(profiler.output_text(show_all=False, short_mode=False, time="percent_of_total"))
            out = RESULTS / f"profile-{name.replace(' ', '-')}.html"
            out.write_text(profiler.output_html())
            print(f"  HTML profile: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
