"""The plain-text table, the verdict, and the JSON file."""

import datetime
import json
from pathlib import Path

from bench.measure import Result

TRIVIAL = "trivial view (reference)"
# Issue 11's targets: a list page at most 4x the trivial view of the same run, a chart or detail page 3x
# (and every page under --target-ms, 15 ms by default).
LIST_RATIO, DETAIL_RATIO = 4.0, 3.0
GROWTH_WARNING = 1.5  # a page this many times slower in the big clinic gets a note (not a FAIL)


def trivial_median(results: list[Result], clinic: str) -> float:
    return next(r.median_ms for r in results if r.clinic == clinic and r.page == TRIVIAL)


def ratio_to_trivial(result: Result, results: list[Result]) -> float:
    return result.median_ms / trivial_median(results, result.clinic)


def cpu_ratio_to_trivial(result: Result, results: list[Result]) -> float:
    """The same ratio in this process's CPU time: what a busy machine (other processes on its cores) leaves
    comparable between runs. The targets are on the wall time."""
    trivial = next(r for r in results if r.clinic == result.clinic and r.page == TRIVIAL)
    return result.median_cpu_ms / trivial.median_cpu_ms


def ratio_target(page: str) -> float:
    """3x for one record's page (a chart, a referral's page), 4x for a list or search."""
    return DETAIL_RATIO if "chart" in page or "detail" in page else LIST_RATIO


def misses_target(result: Result, results: list[Result], target_ms: float) -> bool:
    if result.page == TRIVIAL:
        return False
    return result.median_ms > target_ms or ratio_to_trivial(result, results) > ratio_target(result.page)


def side_by_side(results: list[Result]) -> list[tuple[Result, ...]]:
    """Rows grouped by page, each page's clinics from largest to smallest."""
    pages = list(dict.fromkeys(r.page for r in results))
    return [tuple(sorted((r for r in results if r.page == p), key=lambda r: -r.patients)) for p in pages]


def table(results: list[Result], target_ms: float) -> str:
    header = ("page", "clinic size", "referrals", "median ms", "p95 ms", "queries", "ratio to trivial", "CPU ms",
              "CPU ratio")  # fmt: skip
    rows = []
    for group in side_by_side(results):
        for r in group:
            over = misses_target(r, results, target_ms)
            rows.append((
                r.page, f"{r.patients:,}", f"{r.referrals:,}", f"{r.median_ms:.2f}" + (" !" if over else ""),
                f"{r.p95_ms:.2f}", r.query_label, f"{ratio_to_trivial(r, results):.1f}x", f"{r.median_cpu_ms:.2f}",
                f"{cpu_ratio_to_trivial(r, results):.1f}x",
            ))  # fmt: skip
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row):
        first, *rest = (str(cell) for cell in row)
        cells = [first.ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
        return " | ".join(cells)

    separator = "-+-".join("-" * w for w in widths)
    return "\n".join([line(header), separator, *(line(row) for row in rows)])


def rls_table(with_rls: list[Result], without_rls: list[Result]) -> str:
    """Median with and without row-level security, page by page, and what it costs."""
    without = {(r.page, r.clinic): r for r in without_rls}
    lines = [f"{'page':<34} {'clinic':<12} {'with RLS ms':>11} {'without ms':>10} {'with/without':>12} {'queries':>9}"]
    for r in with_rls:
        other = without[(r.page, r.clinic)]
        ratio = r.median_ms / other.median_ms if other.median_ms else float("nan")
        queries = f"{r.query_count}/{other.query_count}"
        lines.append(
            f"{r.page:<34} {r.clinic:<12} {r.median_ms:>11.1f} {other.median_ms:>10.1f} {ratio:>11.2f}x {queries:>9}"
        )
    return "\n".join(lines)


def query_comparison(results: list[Result]) -> list[dict]:
    """Per page: query count and median at each clinic size, whether the counts are the same, and
    how many times slower the largest clinic is than the smallest."""
    comparison = []
    for group in side_by_side(results):
        counts = {r.patients: r.query_count for r in group}
        medians = {r.patients: round(r.median_ms, 2) for r in group}
        comparison.append({
            "page": group[0].page, "queries_by_size": counts, "same": len(set(counts.values())) == 1,
            "median_ms_by_size": medians, "time_growth": round(group[0].median_ms / group[-1].median_ms, 2),
        })  # fmt: skip
    return comparison


def size_table(comparison: list[dict]) -> str:
    """Query counts and medians side by side, smallest clinic first."""
    sizes = sorted({size for row in comparison for size in row["queries_by_size"]})
    header = ["page", *(f"queries @{s:,}" for s in sizes), "same?", *(f"median @{s:,}" for s in sizes), "growth"]
    rows = [
        [
            row["page"],
            *(str(row["queries_by_size"].get(s, "-")) for s in sizes),
            "yes" if row["same"] else "NO",
            *(f"{row['median_ms_by_size'][s]:.2f}" if s in row["median_ms_by_size"] else "-" for s in sizes),
            f"{row['time_growth']:.2f}x",
        ]
        for row in comparison
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        " | ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)])
        for r in [header, *rows]
    )


def verdict(results: list[Result], comparison: list[dict], target_ms: float) -> dict:
    slow = [
        f"{r.page} @ {r.patients:,} ({r.median_ms:.1f} ms, {ratio_to_trivial(r, results):.1f}x)"
        for r in results
        if misses_target(r, results, target_ms)
    ]
    growing = [row["page"] for row in comparison if not row["same"]]
    slower = [f"{row['page']} {row['time_growth']:.1f}x" for row in comparison if row["time_growth"] >= GROWTH_WARNING]
    return {
        "time_ok": not slow, "queries_ok": not growing, "slow_pages": slow, "query_count_differs": growing,
        "time_grows_with_size": slower,
    }  # fmt: skip


def flagged_pages(outcome: dict, results: list[Result]) -> set[str]:
    """Pages whose plans deserve a look: over the target, query count differs, or slower when big."""
    flagged = {page.rsplit(" @ ", 1)[0] for page in outcome["slow_pages"]} | set(outcome["query_count_differs"])
    pages = {r.page for r in results}
    for entry in outcome["time_grows_with_size"]:  # "<page> <growth>x"
        flagged.add(entry.rsplit(" ", 1)[0])
    return flagged & pages


def growth_note(outcome: dict) -> str | None:
    if not outcome["time_grows_with_size"]:
        return None
    return (
        f"note: same query count, but slower in the big clinic (>= {GROWTH_WARNING}x the small one's median): "
        + ", ".join(outcome["time_grows_with_size"])
        + ". Their query plans are printed above (all pages' with --explain-all)."
    )


def summary_line(outcome: dict, target_ms: float) -> str:
    passed = outcome["time_ok"] and outcome["queries_ok"]
    return (
        f"target: <= {target_ms:g} ms median and <= {LIST_RATIO:g}x trivial (lists),"
        f" <= {DETAIL_RATIO:g}x (chart, detail),"
        f" queries independent of size: {'PASS' if passed else 'FAIL'}"
        f" (time {'ok' if outcome['time_ok'] else 'over: ' + ', '.join(outcome['slow_pages'])};"
        f" queries {'ok' if outcome['queries_ok'] else 'differ: ' + ', '.join(outcome['query_count_differs'])})"
    )


def write_json(path: Path, *, results, comparison, outcome, explained, options) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "options": options,
        "results": [
            {
                "page": r.page,
                "clinic": r.clinic,
                "patients": r.patients,
                "referrals": r.referrals,
                "path": r.path,
                "median_ms": round(r.median_ms, 3),
                "p95_ms": round(r.p95_ms, 3),
                "min_ms": round(min(r.times_ms), 3),
                "max_ms": round(max(r.times_ms), 3),
                "queries": r.query_count,
                "queries_min": min(r.queries),
                "queries_max": max(r.queries),
                "ratio_to_trivial": round(ratio_to_trivial(r, results), 2),
                "median_cpu_ms": round(r.median_cpu_ms, 3),
                "cpu_ratio_to_trivial": round(cpu_ratio_to_trivial(r, results), 2),
                "times_ms": [round(t, 3) for t in r.times_ms],
            }
            for r in results
        ],
        "query_comparison": comparison,
        "verdict": outcome,
        "explain": explained,
    }
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
