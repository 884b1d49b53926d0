"""Individualized treatment plans (ITP) for cardiac, intensive cardiac and pulmonary rehab.

Medicare requires a written plan per patient (diagnosis; type, amount, frequency and duration of
services; goals) "established, reviewed, and signed by a physician every 30 days" (42 CFR 410.47 and
410.49, Benefit Policy Manual Ch.15 §232; ../shared/reference/domain.md 3.5). Staff draft a version;
a physician linked to the patient signs it by re-entering their password or an authenticator code;
the signed version is locked and covers dates of service from its signature date up to
settings.ITP_REVIEW_DAYS after it. A review drafts the next version from the last signed one.

- selectors.py: reads, including `treatment_plan_covering` for claim lines and the due list.
- services.py: itp_draft, itp_update_draft, itp_sign, itp_start_review.
- digest.py: the physicians' daily "plans due" email (Celery beat).
"""
