"""In the demo, each physician's home card counts exactly what My patients lists (issue 9 found the card
saying 21 and the list showing 6): both come from referrals.selectors.physician_referrals."""

import re

from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from clinic.models import Membership


def test_demo_physicians_home_card_equals_my_patients_and_portal(db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    physicians = Membership.objects.filter(roles__contains=["physician"]).select_related("clinic", "user")
    assert physicians.count() == 2
    for membership in physicians:
        client = Client()
        client.force_login(membership.user)
        home = client.get(reverse("clinic_home", args=[membership.clinic.slug])).content.decode()
        card = int(re.search(r'<span class="stat-number">(\d+)</span>\s*<span>patients? you referred', home).group(1))
        listed = client.get(reverse("my_patients", args=[membership.clinic.slug])).context["page"]
        portal = client.get(reverse("portal_home")).context["page"]
        assert card == listed.paginator.count == portal.paginator.count == len(listed.object_list) > 0
