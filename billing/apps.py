from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from django.db.models.signals import post_save

        from billing import audit, hooks
        from clinic.models import TreatmentPlan
        from scheduling.models import SessionLog

        audit.register_audited_models()
        # scheduling/ may not import billing (it sits above it): a saved floor-sheet row asks for its
        # enrollment's lines here, after the save commits. The signal only enqueues; the rules are in claims.py.
        post_save.connect(hooks.session_log_saved, sender=SessionLog, dispatch_uid="billing.session_log_saved")
        # The same for a signature (clinic/treatment_plans may not import billing either).
        post_save.connect(hooks.treatment_plan_saved, sender=TreatmentPlan, dispatch_uid="billing.treatment_plan_saved")
