from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from django.db.models.signals import post_save

        from billing import audit, hooks
        from clinic import events
        from clinic.models import TreatmentPlan
        from scheduling.models import SessionLog

        audit.register_audited_models()
        # scheduling/ may not import billing (it sits above it): a saved floor-sheet row asks for its
        # enrollment's lines here, after the save commits. The signals only enqueue; the rules are in claims.py.
        # The floor sheet announces its saves (its updates send no post_save); post_save catches rows made
        # elsewhere (imports, the demo). One task per transaction either way (hooks.py).
        events.session_recorded.connect(hooks.session_log_saved, dispatch_uid="billing.session_recorded")
        post_save.connect(hooks.session_log_saved, sender=SessionLog, dispatch_uid="billing.session_log_saved")
        # The same for a signature (clinic/treatment_plans may not import billing either).
        post_save.connect(hooks.treatment_plan_saved, sender=TreatmentPlan, dispatch_uid="billing.treatment_plan_saved")
