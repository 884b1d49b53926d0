"""Benchmark of the patient and referral pages: are they fast, and is their query count independent
of clinic size?

What it measures
    In-process requests through django.test.Client (the full middleware stack and template
    rendering, no network or WSGI server), signed in as each clinic's administrator:

      - a trivial view (`HttpResponse("ok")` mounted by bench/urls.py): the reference
      - the patient list, and a late page of it (?page=200)
      - patient search by last-name prefix ("Sm"), by "first last", by date of birth (MM/DD/YYYY)
        and by MRN
      - one patient's chart
      - the staff referral queue: the default "open" tab, ?status=overdue, all (?status=), a late
        page of all (?page=100), a search of all by prefix ("Sm"), and an accepted referral's page
      - the physician portal "My patients" (/portal/), all and ?status=accepted, signed in as the
        clinic's physician (who sent ~30% of the clinic's referrals)

    Each page gets warm-up requests, then N timed ones, round-robin over all pages of both clinics
    (so a burst of load on the machine hits every page alike). For every request: wall time
    (time.perf_counter around client.get) and the number of SQL queries on the default connection
    (CaptureQueriesContext). Every response must be a 200. The patient list and chart, the
    referral page and the portal write one audit-trail row (an access entry); that INSERT is part
    of what is measured, as in production (the referral queue writes none).

    The same pages run against a big clinic (bench-big, 50,000 patients, 10,000 referrals) and a
    small one (bench-small, 5,000 patients, 1,000 referrals) to show that the query count does not
    grow with the clinic's size. The last-name prefix search is then run once more under EXPLAIN
    ANALYZE to show its plan, and so is every page that misses the target, whose query count
    differs between the clinics, or that is >= 1.5x slower in the big one (or every page with
    --explain-all). For the referral and portal pages the plans are those of their referral SELECTs.

Where
    A database of its own, `medfit_bench`, on the server of DATABASE_URL (created if missing),
    with tests.settings (no HTTPS redirect, a Redis database of its own). The data set is built
    once (Faker names with real frequencies, fixed seed, bulk_create in batches of 5,000, then
    VACUUM ANALYZE) and reused while the clinic sizes (patients and referrals) match the arguments.
    Referrals: 5 programs and 50 referring providers per clinic (one is the physician member),
    created over the past year, every status (recent ones mostly open, older ones mostly closed,
    so some open ones are overdue), copied from and linked to patients; accepted ones have an
    enrollment, every one its status history. Their dates are relative to the build, so rebuild
    (--rebuild) a data set that is weeks old.

Output
    A table (page | clinic size (patients) | referrals | median ms | p95 ms | queries | ratio to
    trivial, and this process's CPU ms and CPU ratio to trivial, which hold still when other work shares
    the cores; '!' marks a page over the target (issue 11: median <= 15 ms and <= 4x the trivial view for a
    list or search, <= 3x for the chart and the referral's page); queries is the range seen, and the comparison uses
    the most frequent count, because a session save every 30 s adds 3 queries to a random page),
    query counts side by side, the plans (see above), the line
    "target: <= 15 ms median and <= 4x trivial (lists), <= 3x (chart, detail), queries independent of
    size: PASS/FAIL", and bench/results/latest.json.
    The exit status is 0 even on FAIL; only errors (a non-200 page, …) exit non-zero.

How to run
    make bench
    make bench BENCH_ARGS="--patients 10000 --referrals 2000"
    make bench BENCH_ARGS="--iterations 20 --rebuild --explain-all"
    make bench BENCH_ARGS="--lists-only"           # the pages above only (bench/measure.py)
    make bench BENCH_ARGS="--reminders-only"       # the reminder job only (bench/reminders.py)
    make bench BENCH_ARGS="--floor-only"           # the floor sheet only (bench/floorsheet.py)
    make bench BENCH_ARGS="--reports-only"         # PDF progress reports only (bench/reports.py)
    make bench BENCH_ARGS="--dashboard-only"       # the KPI dashboard and export only (bench/dashboard.py)
    make bench BENCH_ARGS="--dprp-only"            # the CDC DPRP export only (bench/dprp.py)
    make bench BENCH_ARGS="--claims-only"          # claim-line derivation only (bench/claims.py)
    make bench BENCH_ARGS="--packets-only"         # a 40-page documentation packet PDF (bench/packets.py)
"""

import argparse
import subprocess
import sys
from pathlib import Path

from bench.database import configure_django, migrate, recreate_database, without_row_level_security

BIG, SMALL = "bench-big", "bench-small"
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "latest.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="Benchmark the patient and referral pages."
    )
    parser.add_argument("--patients", type=int, default=50_000, help=f"patients in {BIG} (default 50000)")
    parser.add_argument("--small-patients", type=int, default=5_000, help=f"patients in {SMALL} (default 5000)")
    parser.add_argument("--referrals", type=int, default=10_000, help=f"referrals in {BIG} (default 10000)")
    parser.add_argument("--small-referrals", type=int, default=1_000, help=f"referrals in {SMALL} (default 1000)")
    parser.add_argument("--iterations", type=int, default=50, help="timed requests per page (default 50)")
    parser.add_argument("--warmups", type=int, default=5, help="untimed requests per page first (default 5)")
    parser.add_argument("--target-ms", type=float, default=15.0, help="median target per page (default 15)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the data set (default 2024)")
    parser.add_argument("--rebuild", action="store_true", help="drop medfit_bench and build the data set again")
    parser.add_argument("--explain-all", action="store_true", help="print the query plans of every search page")
    parser.add_argument("--reminder-bookings", type=int, default=50_000,
                        help="bookings in one day for the reminder job (default 50000; 0 skips it)")  # fmt: skip
    parser.add_argument(
        "--lists-only", action="store_true", help="measure the patient and referral pages only, nothing after them"
    )
    parser.add_argument("--reminders-only", action="store_true", help="measure the reminder job only")
    parser.add_argument("--floor-only", action="store_true", help="measure the floor sheet only (bench/floorsheet.py)")
    parser.add_argument("--reports-only", action="store_true", help="measure the PDF reports only (bench/reports.py)")
    parser.add_argument("--queue-reports", type=int, default=500,
                        help="reports sent through the queue (default 500; 0 skips it)")  # fmt: skip
    parser.add_argument("--dprp-only", action="store_true", help="measure the DPRP export only (bench/dprp.py)")
    parser.add_argument(
        "--packets-only", action="store_true", help="measure a 40-page packet PDF only (bench/packets.py)"
    )
    parser.add_argument(
        "--dashboard-only",
        action="store_true",
        help="measure the KPI dashboard and the observation export only (bench/dashboard.py)",
    )
    parser.add_argument(
        "--dashboard-patients", type=int, default=100_000, help="patients in bench-kpi (default 100000)"
    )
    parser.add_argument("--dashboard-sessions", type=int, default=2_000_000,
                        help="booked sessions in bench-kpi (default 2000000)")  # fmt: skip
    parser.add_argument(
        "--claims-only", action="store_true", help="measure claim-line derivation only (bench/claims.py)"
    )
    parser.add_argument("--claims-patients", type=int, default=10_000,
                        help="CR patients × 36 sessions in bench-claims (default 10000)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.patients < 1 or args.small_patients < 1:
        parser.error("--iterations, --patients and --small-patients must be at least 1")
    if args.referrals < 0 or args.small_referrals < 0:
        parser.error("--referrals and --small-referrals cannot be negative")
    return args


def prepare_data(args: argparse.Namespace, bench_url: str) -> None:
    """Build the data set unless both clinics already exist with the requested sizes (patients and
    referrals); otherwise drop medfit_bench and build it all again."""
    from bench import dataset
    from clinic.dbroles import connected_as_owner

    print("Migrating medfit_bench…", flush=True)
    migrate()
    wanted = {BIG: (args.patients, args.referrals), SMALL: (args.small_patients, args.small_referrals)}
    with connected_as_owner():  # the application role sees no patients outside a request (row-level security)
        present = {slug: dataset.clinic_size(slug) for slug in wanted}
    if not args.rebuild and present == wanted:
        print(f"Data set present: {describe(wanted)}.", flush=True)
        return
    if any(size is not None for size in present.values()) or args.rebuild:
        have = describe(present) if all(size is not None for size in present.values()) else present
        print(f"Data set is {have}, wanted {describe(wanted)}: recreating medfit_bench.", flush=True)
        recreate_database(bench_url)
        migrate()
    with connected_as_owner():  # the owner's session sees every clinic
        for slug, (patients, referrals) in wanted.items():
            dataset.build_clinic(slug, patients, referrals, args.seed)
        dataset.analyze()


def describe(sizes: dict[str, tuple[int, int]]) -> str:
    return ", ".join(f"{slug} {patients:,} patients and {referrals:,} referrals"
                     for slug, (patients, referrals) in sizes.items())  # fmt: skip


def print_plan(title: str, explained: list[dict]) -> None:
    print(f"\nEXPLAIN ANALYZE: {title}")
    for number, query in enumerate(explained, 1):
        sql = query["sql"]
        kind = "status counts" if "FILTER (WHERE" in sql else "count" if "COUNT(" in sql else "page"
        uses = ", ".join(query["indexes"]) or "no index"
        print(f"  query {number} ({kind}): indexes used: {uses}; seq scan: {'yes' if query['seq_scan'] else 'no'}; "
              f"{query['execution_ms']} ms")  # fmt: skip
        for line in query["summary"]:
            print(f"    {line}")


def size_label(results, slug: str) -> str:
    r = next(r for r in results if r.clinic == slug)
    return f"{r.patients:,} patients, {r.referrals:,} referrals"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    bench_url = configure_django()

    from django.test.utils import override_settings

    from bench import measure, report
    from clinic.models import Clinic

    if args.reminders_only:
        from bench import reminders

        if args.rebuild:
            recreate_database(bench_url)
        migrate()
        reminders.run(args.reminder_bookings, args.seed)
        return 0
    if args.floor_only:
        from bench import floorsheet

        migrate()
        floorsheet.run_in_bench_urls(args.iterations, args.warmups)
        return 0
    if args.reports_only:
        from bench import reports

        migrate()
        reports.run(min(args.iterations, 20), args.warmups, args.queue_reports)
        return 0
    if args.dprp_only:
        if args.rebuild:
            recreate_database(bench_url)
        run_dprp()
        return 0
    if args.packets_only:
        from bench import packets

        migrate()
        packets.run(min(args.iterations, 5), 1)
        return 0
    if args.dashboard_only:
        if args.rebuild:
            recreate_database(bench_url)
        run_dashboard(args)
        return 0
    if args.claims_only:
        if args.rebuild:
            recreate_database(bench_url)
        run_claims(args)
        return 0
    prepare_data(args, bench_url)
    print(f"\nMeasuring: {args.warmups} warm-ups + {args.iterations} timed requests per page…", flush=True)
    explained = {}
    with override_settings(ROOT_URLCONF="bench.urls"):
        big, small = Clinic.objects.get(slug=BIG), Clinic.objects.get(slug=SMALL)
        results = measure.measure_all([big, small], args.iterations, args.warmups)
        print("Measuring again without row-level security…", flush=True)
        with without_row_level_security():
            results_without_rls = measure.measure_all([big, small], args.iterations, args.warmups)
        prefix_page = next(r for r in results if r.clinic == BIG and r.page.startswith("search last-name"))
        explained[prefix_page.page] = measure.explain_page(big, prefix_page.path)
        comparison = report.query_comparison(results)
        outcome = report.verdict(results, comparison, args.target_ms)
        flagged = report.flagged_pages(outcome, results)
        for r in results:
            wanted = args.explain_all or r.page in flagged
            if wanted and r.clinic == BIG and r.page != report.TRIVIAL and r.page not in explained:
                explained[r.page] = measure.explain_page(big, r.path)

    print()
    print(f"Clinics: {BIG} {size_label(results, BIG)}, {SMALL} {size_label(results, SMALL)}.")
    print(report.table(results, args.target_ms))
    print("\nRow-level security (the same pages as the owner, policies off and no scope queries):")
    print(report.rls_table(results, results_without_rls))
    print("\nBy clinic size (queries per request, median ms, big/small median):")
    print(report.size_table(comparison))
    for title, queries in explained.items():
        print_plan(f"{title} @ {size_label(results, BIG)}", queries)
    report.write_json(RESULTS_FILE, results=results, comparison=comparison, outcome=outcome, explained=explained,
                      options=vars(args))  # fmt: skip
    print(f"\nResults written to {RESULTS_FILE}")
    note = report.growth_note(outcome)
    if note:
        print(note)
    print(report.summary_line(outcome, args.target_ms))
    if args.lists_only:
        return 0
    from bench import floorsheet

    floorsheet.run_in_bench_urls(args.iterations, args.warmups)  # the floor sheet (bench/floorsheet.py)
    if args.reminder_bookings:
        from bench import reminders

        reminders.run(args.reminder_bookings, args.seed)  # the session-reminder job (bench/reminders.py)
    from bench import reports

    reports.run(min(args.iterations, 20), args.warmups, args.queue_reports)  # PDF reports (bench/reports.py)
    run_dashboard(args)  # the KPI dashboard and the observation export (bench/dashboard.py)
    run_dprp_in_a_process_of_its_own()  # the CDC DPRP export (bench/dprp.py)
    run_claims(args)  # claim-line derivation (bench/claims.py)
    from bench import packets

    packets.run(min(args.iterations, 5), 1)  # a 40-page documentation packet PDF (bench/packets.py)
    return 0


def run_dprp() -> None:
    from bench import dprp

    migrate()
    dprp.run()


def run_dprp_in_a_process_of_its_own() -> None:
    """The export's memory target is the peak resident size of the process that runs it, and a process's peak
    never falls: after the pages, reports and dashboard above, this one's is already several hundred MB."""
    sys.stdout.flush()
    subprocess.run([sys.executable, "-m", "bench.run", "--dprp-only"], check=True)


def run_dashboard(args: argparse.Namespace) -> None:
    from bench import dashboard

    migrate()
    dashboard.run_in_bench_urls(
        min(args.iterations, 20), args.warmups, patients=args.dashboard_patients, sessions=args.dashboard_sessions
    )


def run_claims(args: argparse.Namespace) -> None:
    from bench import claims

    migrate()
    claims.run(min(args.iterations, 3), patients=args.claims_patients)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
