"""The clinic settings form and the home page cards."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member

pytestmark = [pytest.mark.browser, BROWSER_DB]


def box(locator) -> dict:
    return locator.bounding_box()


def test_settings_offer_a_time_zone_list_plain_labels_and_checkboxes_beside_their_labels(page, shot):
    clinic = make_clinic("alpha")
    admin = make_member(clinic, "admin")
    sign_in(page, admin.user.email)

    page.goto("/c/alpha/settings/")
    time_zone = page.get_by_label("Time zone")
    expect(time_zone).to_have_value("America/New_York")
    expect(page.get_by_label("Tax ID")).to_be_visible()
    shot(page, "settings")

    for label in ["Require two-factor authentication", "Sign out when the browser closes"]:
        checkbox, text = box(page.get_by_label(label)), box(page.locator("label", has_text=label))
        assert checkbox["x"] + checkbox["width"] <= text["x"], label  # the box sits left of its label
        assert abs((checkbox["y"] + checkbox["height"] / 2) - (text["y"] + text["height"] / 2)) < 6, label

    time_zone.select_option("America/Chicago")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Clinic settings saved.")).to_be_visible()
    expect(page.get_by_label("Time zone")).to_have_value("America/Chicago")


def test_home_cards_line_up_in_equal_heights(page, shot):
    clinic = make_clinic("alpha")
    admin = make_member(clinic, "admin")
    sign_in(page, admin.user.email)

    page.goto("/c/alpha/")
    cards = page.locator(".cards > .card")
    expect(cards.first).to_be_visible()
    shot(page, "home")
    boxes = [box(cards.nth(i)) for i in range(cards.count())]
    first_row = [b for b in boxes if abs(b["y"] - boxes[0]["y"]) < 1]
    assert len(first_row) > 1
    assert len({round(b["height"]) for b in first_row}) == 1, boxes
    # Every card fills one grid column: the same width, and the second row starts under the first.
    assert len({round(b["width"]) for b in boxes}) == 1, boxes
    assert {round(b["x"]) for b in boxes[len(first_row) :]} <= {round(b["x"]) for b in first_row}, boxes
