"""Referral pieces shown on clinic/'s pages, which may not import referrals/: the physician's home card
and the chart's "Referrals" section. The rules stay in referrals.selectors; these only render them."""

from django import template

from clinic.permissions import has_permission
from referrals import selectors

register = template.Library()


@register.inclusion_tag("referrals/_physician_home_card.html", takes_context=True)
def physician_home_card(context):
    """ "N patients you referred": the count of what the clinic's My patients lists, by the same selector."""
    request = context["request"]
    counts = selectors.physician_referral_counts(user=request.user, clinic_slug=request.clinic.slug)
    return {"clinic": request.clinic, "counts": counts}


@register.inclusion_tag("referrals/_patient_referrals.html", takes_context=True)
def patient_referrals(context, patient):
    """The patient's referrals the member may see, each linking to its referral page (one query)."""
    membership = context["request"].membership
    if not has_permission(membership, "referral.view"):
        return {"shown": False}
    referrals = selectors.patient_referrals(membership=membership, patient_id=patient.pk)
    mine_only = not has_permission(membership, "referral.view_all")
    return {"shown": True, "clinic": membership.clinic, "referrals": referrals, "mine_only": mine_only}
