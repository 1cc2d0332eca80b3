"""What a shopper sees when a link carries a value the input boundary
refuses: a page in their language naming the field, with a way on, that
passes axe's WCAG 2.1 A/AA checks (issue 12)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.browser

LOCALES = {"zh": "zh-CN", "en": "en-US"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_merchant_link_with_a_control_character_shows_the_refusal_naming_it(
        live_server, new_page, screenshot, axe_violations, make_merchant, button_order, lang):
    order = button_order(make_merchant(), title="Oolong\x07tea")
    page = new_page(locale=LOCALES[lang])
    answer = page.goto(f"{live_server.url}/pay?{urlencode(order)}")
    assert answer.status == 400
    assert page.get_by_test_id("refused").get_attribute("data-field") == "title"
    assert axe_violations(page) == []
    screenshot(page, f"entry-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_page_with_an_odd_query_value_names_it_and_leads_home(live_server, new_page,
                                                               screenshot, axe_violations,
                                                               lang):
    page = new_page(locale=LOCALES[lang])
    answer = page.goto(f"{live_server.url}/demo/shop?item=tea%00")
    assert answer.status == 400
    assert page.get_by_test_id("error").get_attribute("data-field") == "item"
    assert axe_violations(page) == []
    screenshot(page, f"page-{lang}")
    page.get_by_test_id("error-home").click()
    page.wait_for_url(f"{live_server.url}/")
