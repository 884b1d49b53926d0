from django.utils.functional import SimpleLazyObject

from clinic.models import Membership
from clinic.permissions import permissions_of


def navigation(request):
    """The clinic switcher in the header and what the current member may open."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    memberships = getattr(request, "my_memberships", None)  # read by clinic.tenancy.clinic_view on clinic pages
    if memberships is None:
        memberships = Membership.objects.filter(user=request.user, is_active=True).select_related("clinic")
    membership = getattr(request, "membership", None)
    allowed = permissions_of(frozenset(membership.roles)) if membership else frozenset()
    return {
        "my_memberships": memberships,
        "current_membership": membership,
        "can": allowed,
        # Lazy: a fragment that shows no header (an htmx row) reads no memberships.
        "is_physician": SimpleLazyObject(lambda: any("physician" in m.roles for m in memberships)),
        "idle_timeout_seconds": request.session.get("idle_timeout_seconds", 900),
    }
