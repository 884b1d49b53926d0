"""Row-level security policies evaluate the connection's scope once per query, not once per row.

The policy functions (clinic/rls.py FUNCTIONS_SQL) are SQL functions that PostgreSQL inlines, so a policy
written `clinic_id = ANY (medfit_rls_clinic_ids())` parsed the `medfit.clinic_ids` setting for every row a
query read: about half the time of a scan of 100,000 referrals. Wrapped in a scalar subquery,
`(SELECT medfit_rls_clinic_ids())`, it becomes an init plan computed once. What the policies allow is
unchanged. New policies get the wrapped form from clinic.rls.VISIBLE; this rewrites the existing ones.
"""

from django.db import migrations

# Wrap every call not yet wrapped; `= ANY` needs the cast, or PostgreSQL reads `ANY ((SELECT …))` as a
# comparison with each row of the subquery.
WRAP = r"""regexp_replace(
    regexp_replace({expression}, '(?<!SELECT )medfit_rls_(\w+)\(\)', '(SELECT medfit_rls_\1())', 'g'),
    'ANY \(\(SELECT medfit_rls_clinic_ids\(\)\)\)', 'ANY ((SELECT medfit_rls_clinic_ids())::bigint[])', 'g')"""

WRAP_POLICIES_SQL = rf"""
DO $$
DECLARE
    policy record;
BEGIN
    FOR policy IN
        SELECT schemaname, tablename, qual, with_check FROM pg_policies
        WHERE policyname = 'clinic_isolation'
          AND (qual ~ '(?<!SELECT )medfit_rls_\w+\(\)' OR with_check ~ '(?<!SELECT )medfit_rls_\w+\(\)')
    LOOP
        EXECUTE format(
            'ALTER POLICY clinic_isolation ON %I.%I USING (%s) WITH CHECK (%s)',
            policy.schemaname, policy.tablename,
            {WRAP.format(expression="policy.qual")},
            {WRAP.format(expression="policy.with_check")}
        );
    END LOOP;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("clinic", "0021_program_headline_measure")]

    operations = [migrations.RunSQL(WRAP_POLICIES_SQL, reverse_sql=migrations.RunSQL.noop)]
