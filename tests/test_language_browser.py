"""No page shows a word of the other language (issue 15, "Language leaks":
"404 · Not Found" and the demo's product names in English on Chinese pages,
秒支付 in the footer of English pages).

Each shopper page is opened in Chromium in Chinese and in English, with the
shop's own data (shop name, order title, coupon names) in that language too,
as a shop serving that language would send it. What the shopper can see or
hear is read: the rendered text, the title, and the ``aria-label``, ``alt``,
``title`` and ``placeholder`` attributes. Left out: text marked with another
``lang`` (the language switch's 中文 / EN), machine text (a webhook URL in
``<code>``, the payment link to copy), and graphics (brand marks and QR codes are ``<svg>`` images;
their text alternative is what counts).

- English pages: no CJK character.
- Chinese pages: no Latin word, except brand names and codes (``ALLOWED``).
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode

import pytest

from checkout.clock import now_ms
from checkout.db import db
from checkout.models import Bill, CheckoutOrder
from checkout.sandbox import bills as sandbox_bills

pytestmark = pytest.mark.browser

PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) "
             "NetType/WIFI Language/zh_CN")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "user_agent": PHONE_UA}
WECHAT = {**PHONE, "user_agent": WECHAT_UA}
DOMESTIC = ["ALI_WEB", "ALI_QRCODE", "WX_NATIVE", "UN_WEB", "JD_WEB", "ALI_WAP", "WX_WAP",
            "UN_WAP", "JD_WAP", "WX_JSAPI", "YEE_WEB", "KUAIQIAN_WEB", "BD_WEB"]
CASHIERS = ["ALI_WEB", "WX_NATIVE", "UN_WEB", "JD_WEB", "YEE_WEB", "KUAIQIAN_WEB", "BD_WEB"]
BUYER = "alice"

# The shop's data, as a shop serving each language sends it.
SHOP = {"zh": {"shop": "茶馆", "usd_shop": "环球茶行", "title": "乌龙茶", "coupons": ("满减券", "新客券")},
        "en": {"shop": "Tea House", "usd_shop": "Global Tea", "title": "Oolong tea",
               "coupons": ("Spring sale", "Welcome coupon")}}

CJK = re.compile(r"[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
                 r"\uff00-\uffef]")
# A word of Latin letters standing alone (order numbers and codes mixing
# letters and digits, like order1a2b or A17963, are not words).
LATIN_WORD = re.compile(r"(?<![0-9A-Za-z_])[A-Za-z]+(?:['’][A-Za-z]+)?(?![0-9A-Za-z_])")
# Names and codes that Chinese pages write in Latin letters too.
ALLOWED = {
    "PayPal", "Visa", "VISA", "Mastercard", "American", "Express", "Amex", "Discover",  # brands
    "USD", "CNY", "JPY", "EUR",  # currency codes
    "MM", "YY",  # the card expiry's format, as printed on cards
}
# The demo shop is a merchant's page for developers: it names the technical
# terms Chinese developer documentation writes in Latin letters too.
DEMO_ALLOWED = ALLOWED | {"REST", "API", "Webhook", "URL"}

# What the shopper sees or hears; see the module docstring. The page is
# looked at last, so the parts left out are simply taken out of it before its
# rendered text (innerText: inline pieces such as a logo's <span>Pay</span><span>Pal</span>
# joined as shown) is read line by line.
READ_PAGE = """() => {
  const pageLang = (document.documentElement.getAttribute('lang') || '').slice(0, 2);
  const foreign = [...document.body.querySelectorAll('[lang]')]
    .filter(el => el.getAttribute('lang').slice(0, 2) !== pageLang);
  for (const el of foreign) { el.remove(); }
  for (const el of document.body.querySelectorAll('svg, code, script, style, noscript, template')) {
    el.remove();
  }
  const out = [document.title];
  for (const el of document.body.querySelectorAll('[aria-label], [alt], [title], [placeholder]')) {
    for (const name of ['aria-label', 'alt', 'title', 'placeholder']) {
      if (el.hasAttribute(name)) { out.push(el.getAttribute(name)); }
    }
  }
  out.push(...document.body.innerText.split('\\n'));
  return out.map(s => s.replace(/\\s+/g, ' ').trim()).filter(Boolean);
}"""
URL = re.compile(r"https?://\S+")


def other_language(texts: list[str], lang: str, allowed=ALLOWED) -> list[str]:
    """The pieces of ``texts`` in the other language than ``lang``."""
    if lang == "en":
        return [text for text in texts if CJK.search(text)]
    return [text for text in texts  # an address is no word of a language
            if any(word not in allowed for word in LATIN_WORD.findall(URL.sub(" ", text)))]


class Shop:
    """A shop serving shoppers in ``lang``, and a way to open its pages."""

    def __init__(self, request, live_server, client, make_merchant, new_page, button_order,
                 give_coupon, lang):
        self.request, self.lang, self.data = request, lang, SHOP[lang]
        self.url, self.client, self.make_merchant = live_server.url, client, make_merchant
        self.new_page, self.button_order, self.give_coupon = new_page, button_order, give_coupon
        self.merchant = make_merchant(self.data["shop"], channels=DOMESTIC)

    def goto(self, path, device=None):
        pg = self.new_page(**(device or {}))
        pg.goto(f"{self.url}{path}{'&' if '?' in path else '?'}lang={self.lang}")
        return pg

    def open_order(self, merchant=None, user_agent=None, **fields):
        fields.setdefault("title", self.data["title"])
        response = self.client.post("/pay", data=self.button_order(merchant or self.merchant,
                                                                    **fields),
                                    headers={"User-Agent": user_agent or ""})
        assert response.status_code == 303, response.data
        return response.headers["Location"].replace("http://localhost", "")

    def start(self, path, channel) -> Bill:
        page = self.client.get(path).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = self.client.post(path + "/start", data={"csrf_token": token,
                                                           "channel": channel})
        assert response.status_code == 303, response.data
        self.client.get(response.headers["Location"])
        db.session.expire_all()
        return db.session.execute(db.select(Bill).where(Bill.channel == channel)).scalar_one()

    def usd_merchant(self):
        return self.make_merchant(self.data["usd_shop"],
                                  channels=["PAYPAL_PAYPAL", "PAYPAL_CREDITCARD"],
                                  default_currency="USD")

    def card_order(self) -> CheckoutOrder:
        merchant = self.usd_merchant()
        order = CheckoutOrder(id=secrets.token_urlsafe(24), app_id=merchant.app_id,
                              out_trade_no=secrets.token_hex(8), bill_no=secrets.token_hex(8),
                              title=self.data["title"], amount=123456, currency="USD",
                              buyer_id=BUYER, bills={}, extra={}, created_at=now_ms(),
                              updated_at=now_ms())
        db.session.add(order)
        db.session.commit()
        return order


PAGES = {}


def page(name):
    def register(opener):
        PAGES[name] = opener
        return opener
    return register


@page("chooser-pc")
def _chooser_pc(s):
    return s.goto(s.open_order())


@page("chooser-phone")
def _chooser_phone(s):
    return s.goto(s.open_order(user_agent=PHONE_UA), PHONE)


@page("chooser-wechat")
def _chooser_wechat(s):
    return s.goto(s.open_order(user_agent=WECHAT_UA), WECHAT)


@page("chooser-coupons")
def _chooser_coupons(s):
    for name, discount in zip(s.data["coupons"], ("3", "5")):
        s.give_coupon(s.merchant, BUYER, name=name, discount=discount)
    pg = s.goto(s.open_order(amount="10000000000", buyer_id=BUYER))
    pg.get_by_test_id("coupons").wait_for()
    return pg


@page("chooser-usd")
def _chooser_usd(s):
    return s.goto(s.open_order(s.usd_merchant(), amount="1999"))


@page("qr-wx-native")
def _qr(s):
    pg = s.goto(s.open_order())
    pg.click('[data-testid="channel-WX_NATIVE"]')
    pg.wait_for_selector("[data-expires]")
    return pg


@page("result-pending")
def _result_pending(s):
    path = s.open_order()
    s.start(path, "ALI_WEB")
    pg = s.goto(f"{path}/return")
    pg.wait_for_selector('[data-testid="result"][data-status="pending"]')
    return pg


@page("result-paid")
def _result_paid(s):
    from checkout.sandbox import settlement

    path = s.open_order()
    settlement.mark_paid(s.start(path, "ALI_WEB"))
    pg = s.goto(f"{path}/return")
    pg.wait_for_selector('[data-testid="result"][data-status="paid"]')
    return pg


@page("result-failed")
def _result_failed(s):
    from checkout.sandbox import settlement

    path = s.open_order()
    settlement.mark_failed(s.start(path, "ALI_WEB"))
    pg = s.goto(f"{path}/return")
    pg.wait_for_selector('[data-testid="result"][data-status="failed"]')
    return pg


@page("qr-alipay")
def _qr_alipay(s):
    pg = s.goto(s.open_order())
    pg.click('[data-testid="channel-ALI_QRCODE"]')
    pg.wait_for_load_state("load")
    return pg


@page("wechat-jsapi")
def _wechat_jsapi(s):
    pg = s.goto(s.open_order(user_agent=WECHAT_UA, openid="o_shopper_1"), WECHAT)
    pg.click('[data-testid="channel-WX_JSAPI"]')
    pg.wait_for_selector("[data-jsapi]")
    return pg


@page("wechat-alipay-guide")
def _wechat_alipay_guide(s):
    pg = s.goto(s.open_order(user_agent=WECHAT_UA, openid="o_shopper_1"), WECHAT)
    pg.click('[data-testid="channel-ALI_WAP"]')
    pg.wait_for_selector('[data-testid="ali-guide"]')
    return pg


@page("paypal-sandbox")
def _paypal_sandbox(s):
    pg = s.goto(s.open_order(s.usd_merchant(), amount="1999"))
    pg.click('[data-testid="channel-PAYPAL_PAYPAL"]')
    pg.get_by_test_id("paypal-amount").wait_for()
    return pg


@page("problem")
def _problem(s):
    fields = s.button_order(s.merchant, title=s.data["title"], sign="0" * 32)
    return s.goto(f"/pay?{urlencode(fields)}")


@page("not-found-order")
def _not_found_order(s):
    return s.goto("/pay/not-a-real-order")


@page("not-found")
def _not_found(s):
    return s.goto("/no/such/page")


@page("card-empty")
def _card_empty(s):
    pg = s.goto(f"/pay/{s.card_order().id}/card")
    pg.fill("#cc-number", "4242")  # the brand indicator names Visa
    return pg


@page("card-error")
def _card_error(s):
    pg = s.goto(f"/pay/{s.card_order().id}/card")
    pg.fill("#cc-number", "4242424242424241")
    pg.fill("#cc-exp", "1230")
    pg.fill("#cc-csc", "737")
    pg.fill("#cc-name", "Jim Green" if s.lang == "en" else "韩梅梅")
    pg.get_by_test_id("card-pay").click()
    pg.get_by_test_id("card-message").wait_for()
    return pg


def _cashier(channel):
    def open_(s):
        answer = sandbox_bills.create_bill(s.merchant, {
            "channel": channel, "total_fee": 1999, "title": s.data["title"],
            "bill_no": f"A{now_ms()}{secrets.randbelow(10 ** 6):06d}",
            "return_url": "https://shop.example.com/back"}, test_mode=True)
        assert answer["result_code"] == 0, answer
        return s.goto(f"/sandbox/cashier/{db.session.get(Bill, answer['id']).cashier_token}")
    return open_


for _channel in CASHIERS:
    page(f"cashier-{_channel}")(_cashier(_channel))


@page("demo-shop")
def _demo_shop(s):
    return s.goto("/demo/shop")


@page("demo-return")
def _demo_return(s):
    return s.goto("/demo/return/demo1234567890")


@pytest.fixture(params=["zh", "en"])
def shop(request, live_server, client, make_merchant, new_page, button_order, give_coupon):
    return Shop(request, live_server, client, make_merchant, new_page, button_order, give_coupon,
                request.param)


@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_shows_no_word_of_the_other_language(name, shop):
    pg = PAGES[name](shop)
    texts = pg.evaluate(READ_PAGE)
    assert texts, "nothing was read"
    allowed = DEMO_ALLOWED if name.startswith("demo-") else ALLOWED
    assert other_language(texts, shop.lang, allowed) == []


# The checks themselves, on text where the answer is known.

def test_chinese_on_an_english_page_is_found():
    assert other_language(["Order number", "订单号 A123"], "en") == ["订单号 A123"]


def test_english_words_on_a_chinese_page_are_found_but_brands_and_codes_are_not():
    texts = ["404 · Not Found", "使用 PayPal 支付 $1,234.56 USD", "订单号 order1a2b3c", "MM / YY",
             "复制链接 http://127.0.0.1:5000/pay/abc/channel/ALI_WAP"]
    assert other_language(texts, "zh") == ["404 · Not Found"]
