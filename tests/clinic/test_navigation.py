"""The header's clinic links: what a member may open, and which one is the current page."""

import re

from django.urls import reverse


def header_links(persona, route: str) -> dict[str, bool]:
    """The clinic navigation's links on a page: label -> marked as the current page."""
    html = persona.client.get(reverse(route, args=[persona.clinic.slug])).content.decode()
    nav = re.search(r'<nav class="mainnav" aria-label="Clinic">(.*?)</nav>', html, re.S).group(1)
    return {
        label: bool(current)
        for current, label in re.findall(r'<a href="[^"]+"( aria-current="page")?>([^<]+)</a>', nav)
    }


def test_an_administrator_sees_the_clinic_s_pages(team_a):
    links = header_links(team_a["admin"], "patient_list")

    assert {"Home", "Patients", "Referrals", "Staff", "Audit trail", "Settings"} <= set(links)


def test_the_page_open_is_marked_current(team_a):
    links = header_links(team_a["admin"], "patient_list")

    assert [label for label, current in links.items() if current] == ["Patients"]


def test_a_physician_sees_the_portal_not_the_clinic_s_lists(team_a):
    links = header_links(team_a["physician"], "my_patients")

    assert "My patients" in links and "Refer a patient" in links
    assert "Patients" not in links and "Audit trail" not in links
    assert links["My patients"] is True


def test_the_links_belong_to_the_clinic_of_the_page(team_a):
    html = team_a["admin"].client.get(reverse("clinic_home", args=[team_a["admin"].clinic.slug])).content.decode()

    assert f'href="/c/{team_a["admin"].clinic.slug}/patients/"' in html
