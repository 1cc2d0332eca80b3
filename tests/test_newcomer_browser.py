"""A newcomer's first pages in Chromium: the home page and the 404 page, in
Chinese and English, pass axe's WCAG 2.1 A/AA checks and lead somewhere."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_home_page_passes_axe_and_leads_to_the_demo_shop(live_server, new_page, screenshot,
                                                          axe_violations, lang):
    page = new_page(locale="zh-CN" if lang == "zh" else "en-US")
    page.goto(f"{live_server.url}/")
    assert axe_violations(page) == []
    screenshot(page, f"home-{lang}")
    page.get_by_test_id("demo-shop").click()
    page.wait_for_url(re.compile(r".*/demo/shop$"))
    assert page.get_by_test_id("product-tea").is_visible()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_not_found_page_passes_axe_and_leads_home(live_server, new_page, screenshot,
                                                  axe_violations, lang):
    page = new_page(locale="zh-CN" if lang == "zh" else "en-US")
    answer = page.goto(f"{live_server.url}/pay/no-such-order")
    assert answer.status == 404
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading == ("找不到这个页面" if lang == "zh" else "Page not found")
    assert axe_violations(page) == []
    screenshot(page, f"not-found-{lang}")
    page.get_by_test_id("error-home").click()
    page.wait_for_url(f"{live_server.url}/")


def test_not_found_page_reached_from_a_page_offers_the_way_back(live_server, page):
    page.goto(f"{live_server.url}/?lang=en")
    page.evaluate("location.href = '/no/such/page'")  # a dead link followed from the home page
    page.wait_for_url(re.compile(r".*/no/such/page$"))
    page.get_by_test_id("error-back").click()
    page.wait_for_url(f"{live_server.url}/?lang=en")


def test_pages_show_the_favicon(live_server, page):
    page.goto(f"{live_server.url}/")
    icons = page.locator("link[rel=icon]")
    hrefs = [icons.nth(i).get_attribute("href") for i in range(icons.count())]
    assert "/favicon.ico" in hrefs and any("favicon.svg" in href for href in hrefs)
    for href in hrefs:
        answer = page.request.get(live_server.url + href)
        assert answer.status == 200 and answer.headers["content-type"].startswith("image/")
