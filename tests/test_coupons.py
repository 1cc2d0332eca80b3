"""Coupons in the embedded gateway: templates, issuing, eligibility, the
discount rule, and consumption exactly once (seed 003, lines 1280-1424)."""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

import pytest

from checkout import money
from checkout.db import db
from checkout.models import Bill, Coupon, CouponTemplate
from checkout.sandbox import coupons
from checkout.sandbox.coupons import CouponRefused

NOW = 1_800_000_000_000
DAY = 24 * 3600 * 1000


# --- small factories -------------------------------------------------------------

@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


@pytest.fixture
def template(merchant):
    """A factory: ``template(discount="10", limit_fee=0, …)``, amount off by default."""
    def make(**fields):
        fields.setdefault("name", "10 yuan off")
        fields.setdefault("type", CouponTemplate.AMOUNT_OFF)
        fields.setdefault("discount", "10")
        fields.setdefault("now_ms", NOW - DAY)
        return coupons.create_template(fields.pop("owner", merchant), **fields)
    return make


@pytest.fixture
def issue(merchant):
    def make(tpl, user_id="alice", now_ms=NOW - DAY, owner=None):
        return coupons.issue_coupon(owner or merchant, tpl.id, user_id, now_ms=now_ms)
    return make


def make_bill(merchant, coupon=None, *, bill_fee=10000, discount=0, status=Bill.OPEN):
    bill = Bill(id=str(uuid.uuid4()), app_id=merchant.app_id, test_mode=False,
                bill_no=uuid.uuid4().hex[:20], channel="ALI_WEB", title="tea",
                total_fee=bill_fee - discount, bill_fee=bill_fee, discount=discount,
                coupon_id=coupon.id if coupon else None, buyer_id=coupon.user_id if coupon else None,
                currency="CNY", channel_params={}, status=status,
                cashier_token=secrets.token_urlsafe(24), create_time=NOW)
    db.session.add(bill)
    db.session.commit()
    return bill


# --- the discount rule (checkout.money) ------------------------------------------------

def test_percentage_ratio_is_the_share_paid():
    # Seed 003 line 1329: 0.9 means "9折", the shopper pays 90 %.
    assert money.percentage_discount(10000, "0.9") == 1000


def test_percentage_rounds_the_discount_down_so_the_shopper_pays_the_fen_up():
    # 199 x 0.9 = 179.1 -> pays 180, discount 19 (never more than advertised).
    assert money.percentage_discount(199, "0.9") == 19
    assert money.percentage_discount(1, "0.5") == 0


def test_percentage_is_exact_for_float_ratios():
    # 0.85 in binary floating point is 0.84999…; the rule must not lose a fen.
    assert money.percentage_discount(100, 0.85) == 15
    assert money.percentage_discount(20, Decimal("0.95")) == 1


@pytest.mark.parametrize("ratio", ["0", "1", "1.2", "-0.1", "nan", "abc"])
def test_percentage_refuses_ratios_outside_zero_and_one(ratio):
    with pytest.raises(money.MoneyError):
        money.percentage_discount(100, ratio)


def test_discount_leaves_at_least_one_fen_to_pay():
    assert money.capped_discount(500, 1000) == 499
    assert money.capped_discount(1, 1000) == 0
    assert money.capped_discount(500, 100) == 100


# --- templates -------------------------------------------------------------------------

def test_amount_off_template_stores_yuan_as_fen(template):
    tpl = template(discount="10.5")
    assert tpl.amount_off == 1050
    assert coupons.template_to_wire(tpl)["discount"] == 10.5


def test_percentage_template_stores_the_ratio_exactly(template):
    tpl = template(type=CouponTemplate.PERCENTAGE, discount="0.85", name="15% off")
    assert tpl.ratio_bp == 8500
    assert coupons.template_to_wire(tpl)["discount"] == 0.85


@pytest.mark.parametrize("fields, detail", [
    ({"type": 2}, "type must be 0"),
    ({"discount": "0"}, "must be positive"),
    ({"discount": "1.005"}, "two decimals"),
    ({"type": 1, "discount": "1"}, "between 0 and 1"),
    ({"type": 1, "discount": "0.12345"}, "four decimals"),
    ({"name": ""}, "name"),
    ({"expiry_type": 3}, "expiry_type"),
    ({"expiry_type": 2}, "delivery_valid_days"),
    ({"start_time": NOW, "end_time": NOW}, "end_time must be after"),
    ({"limit_fee": -1}, "limit_fee"),
])
def test_template_refuses_bad_fields(template, fields, detail):
    with pytest.raises(CouponRefused, match=detail):
        template(**fields)


def test_template_wire_has_every_documented_field(template):
    wire = coupons.template_to_wire(template(limit_fee=10000))
    assert set(wire) >= {"id", "name", "type", "code", "limit_fee", "discount", "total_count",
                         "max_count_per_user", "deliver_count", "use_count", "expiry_type",
                         "start_time", "end_time", "delivery_valid_days", "status",
                         "mch_account", "app_id"}
    assert wire["limit_fee"] == 10000


# --- issuing ------------------------------------------------------------------------------

def test_issued_coupon_is_unused_and_counted(template, issue):
    tpl = template()
    coupon = issue(tpl)
    assert coupon.status == Coupon.UNUSED and coupon.user_id == "alice"
    assert db.session.get(CouponTemplate, tpl.id).deliver_count == 1


def test_window_template_gives_its_window_to_the_coupon(template, issue):
    coupon = issue(template(start_time=NOW - 2 * DAY, end_time=NOW + DAY))
    assert (coupon.start_time, coupon.end_time) == (NOW - 2 * DAY, NOW + DAY)


def test_days_after_delivery_runs_from_the_issue_time(template, issue):
    coupon = issue(template(expiry_type=2, delivery_valid_days=7), now_ms=NOW)
    assert (coupon.start_time, coupon.end_time) == (NOW, NOW + 7 * DAY)


def test_issue_stops_at_total_count(template, issue):
    tpl = template(total_count=1)
    issue(tpl, "alice")
    with pytest.raises(CouponRefused, match="total_count"):
        issue(tpl, "bob")


def test_issue_stops_at_max_count_per_user(template, issue):
    tpl = template(max_count_per_user=1)
    issue(tpl, "alice")
    with pytest.raises(CouponRefused, match="max_count_per_user"):
        issue(tpl, "alice")
    assert issue(tpl, "bob").user_id == "bob"
    assert db.session.get(CouponTemplate, tpl.id).deliver_count == 2


@pytest.mark.parametrize("status", [CouponTemplate.NOT_STARTED, CouponTemplate.STOPPED])
def test_issue_needs_an_active_template(template, issue, status):
    with pytest.raises(CouponRefused, match="not active"):
        issue(template(status=status))


def test_issue_refuses_a_template_whose_window_is_over(template, issue):
    with pytest.raises(CouponRefused, match="window is over"):
        issue(template(start_time=NOW - 3 * DAY, end_time=NOW - DAY), now_ms=NOW)


def test_issue_refuses_another_apps_template(template, issue, make_merchant):
    other = make_merchant("Other Shop")
    with pytest.raises(CouponRefused, match="no such coupon template"):
        issue(template(), owner=other)


@pytest.mark.parametrize("user_id, code", [("", 4), (None, 4), ("x" * 65, 5), (7, 5)])
def test_issue_needs_a_user_id(template, merchant, user_id, code):
    with pytest.raises(CouponRefused) as refused:
        coupons.issue_coupon(merchant, template().id, user_id)
    assert refused.value.result_code == code


# --- eligibility: discount_for_bill ------------------------------------------------------

def test_amount_off_coupon_takes_its_amount(merchant, template, issue):
    coupon = issue(template(discount="10"))
    assert coupons.discount_for_bill(merchant, coupon.id, "alice", 5000, now_ms=NOW) == 1000


def test_percentage_coupon_takes_its_share(merchant, template, issue):
    coupon = issue(template(type=1, discount="0.9"))
    assert coupons.discount_for_bill(merchant, coupon.id, "alice", 199, now_ms=NOW) == 19


def test_discount_bigger_than_the_bill_leaves_one_fen(merchant, template, issue):
    coupon = issue(template(discount="10"))
    assert coupons.discount_for_bill(merchant, coupon.id, "alice", 800, now_ms=NOW) == 799


def test_limit_fee_exactly_met_is_enough(merchant, template, issue):
    coupon = issue(template(limit_fee=10000))
    assert coupons.discount_for_bill(merchant, coupon.id, "alice", 10000, now_ms=NOW) == 1000


def test_limit_fee_not_met_is_refused(merchant, template, issue):
    coupon = issue(template(limit_fee=10000))
    with pytest.raises(CouponRefused, match="limit_fee") as refused:
        coupons.discount_for_bill(merchant, coupon.id, "alice", 9999, now_ms=NOW)
    assert refused.value.reason == "below_limit"


def test_another_apps_coupon_is_unknown(template, issue, make_merchant):
    coupon = issue(template())
    with pytest.raises(CouponRefused, match="no such coupon") as refused:
        coupons.discount_for_bill(make_merchant("Other"), coupon.id, "alice", 5000, now_ms=NOW)
    assert refused.value.reason == "not_found"


def test_unknown_coupon_is_refused(merchant):
    with pytest.raises(CouponRefused, match="no such coupon"):
        coupons.discount_for_bill(merchant, "nope", "alice", 5000, now_ms=NOW)


def test_another_buyers_coupon_is_refused(merchant, template, issue):
    coupon = issue(template(), "alice")
    with pytest.raises(CouponRefused, match="not issued to this buyer_id"):
        coupons.discount_for_bill(merchant, coupon.id, "bob", 5000, now_ms=NOW)


def test_coupon_without_buyer_id_is_a_missing_parameter(merchant, template, issue):
    coupon = issue(template())
    with pytest.raises(CouponRefused, match="buyer_id is required") as refused:
        coupons.discount_for_bill(merchant, coupon.id, None, 5000, now_ms=NOW)
    assert refused.value.result_code == 4


def test_used_coupon_is_refused(merchant, template, issue):
    coupon = issue(template())
    assert coupons.consume_for_bill(make_bill(merchant, coupon, discount=1000), now_ms=NOW)
    db.session.commit()
    with pytest.raises(CouponRefused, match="already been used"):
        coupons.discount_for_bill(merchant, coupon.id, "alice", 5000, now_ms=NOW)


def test_coupon_before_its_window_is_refused(merchant, template, issue):
    coupon = issue(template(start_time=NOW + DAY, end_time=NOW + 2 * DAY))
    with pytest.raises(CouponRefused, match="not valid yet"):
        coupons.discount_for_bill(merchant, coupon.id, "alice", 5000, now_ms=NOW)


def test_coupon_after_its_window_is_refused(merchant, template, issue):
    coupon = issue(template(start_time=NOW - 2 * DAY, end_time=NOW - 1))
    with pytest.raises(CouponRefused, match="expired"):
        coupons.discount_for_bill(merchant, coupon.id, "alice", 5000, now_ms=NOW)


def test_coupon_valid_days_after_delivery_expire(merchant, template, issue):
    coupon = issue(template(expiry_type=2, delivery_valid_days=3), now_ms=NOW)
    assert coupons.discount_for_bill(merchant, coupon.id, "alice", 5000, now_ms=NOW + 3 * DAY)
    with pytest.raises(CouponRefused, match="expired"):
        coupons.discount_for_bill(merchant, coupon.id, "alice", 5000, now_ms=NOW + 3 * DAY + 1)


def test_coupon_of_a_stopped_template_is_refused(merchant, template, issue):
    tpl = template()
    coupon = issue(tpl)
    coupons.set_template_status(merchant, tpl.id, CouponTemplate.STOPPED)
    with pytest.raises(CouponRefused, match="not active"):
        coupons.discount_for_bill(merchant, coupon.id, "alice", 5000, now_ms=NOW)


# --- usable coupons (the checkout's list) ----------------------------------------------------

def test_usable_coupons_put_the_biggest_saving_first(merchant, template, issue):
    small = issue(template(discount="5", name="5 off"))
    big = issue(template(type=1, discount="0.8", name="20% off"))
    issue(template(discount="50", limit_fee=20000, name="50 off over 200"))
    found = coupons.usable_coupons(merchant, "alice", 10000, now_ms=NOW)
    assert [(c.coupon_id, c.discount, c.to_pay) for c in found] == [
        (big.id, 2000, 8000), (small.id, 500, 9500)]


def test_usable_coupons_leave_out_used_expired_and_other_buyers(merchant, template, issue):
    used = issue(template())
    coupons.consume_for_bill(make_bill(merchant, used, discount=1000), now_ms=NOW)
    db.session.commit()
    issue(template(start_time=NOW - 2 * DAY, end_time=NOW - 1))
    issue(template(), "bob")
    assert coupons.usable_coupons(merchant, "alice", 10000, now_ms=NOW) == []


def test_usable_coupons_without_buyer_is_empty(merchant, template, issue):
    issue(template())
    assert coupons.usable_coupons(merchant, None, 10000) == []


# --- consumption -------------------------------------------------------------------------------

def test_coupon_is_consumed_by_the_paid_bill_once(merchant, template, issue):
    tpl = template()
    coupon = issue(tpl)
    bill = make_bill(merchant, coupon, discount=1000)
    assert coupons.consume_for_bill(bill, now_ms=NOW)
    assert coupons.consume_for_bill(bill, now_ms=NOW)  # idempotent for the same bill
    db.session.commit()
    stored = db.session.get(Coupon, coupon.id)
    assert (stored.status, stored.use_time, stored.used_by_bill) == (Coupon.USED, NOW, bill.id)
    assert db.session.get(CouponTemplate, tpl.id).use_count == 1


def test_second_bill_cannot_consume_a_used_coupon(merchant, template, issue):
    coupon = issue(template())
    first = make_bill(merchant, coupon, discount=1000)
    second = make_bill(merchant, coupon, discount=1000)
    assert coupons.consume_for_bill(first, now_ms=NOW)
    assert not coupons.consume_for_bill(second, now_ms=NOW)


def test_bill_without_coupon_consumes_nothing(merchant):
    assert coupons.consume_for_bill(make_bill(merchant))


def test_creating_a_bill_does_not_consume_the_coupon(merchant, template, issue):
    coupon = issue(template())
    make_bill(merchant, coupon, discount=1000, status=Bill.CLOSED)
    assert db.session.get(Coupon, coupon.id).status == Coupon.UNUSED
    assert coupons.discount_for_bill(merchant, coupon.id, "alice", 5000, now_ms=NOW) == 1000


def test_release_gives_the_coupon_back_only_from_its_holder(merchant, template, issue):
    tpl = template()
    coupon = issue(tpl)
    holder = make_bill(merchant, coupon, discount=1000)
    other = make_bill(merchant, coupon, discount=1000)
    coupons.consume_for_bill(holder, now_ms=NOW)
    assert not coupons.release_for_bill(other)
    assert coupons.release_for_bill(holder)
    db.session.commit()
    assert db.session.get(Coupon, coupon.id).status == Coupon.UNUSED
    assert db.session.get(CouponTemplate, tpl.id).use_count == 0


@pytest.mark.postgresql
def test_bills_racing_for_one_coupon_consume_it_once(app, merchant, template, issue, race):
    tpl = template()
    coupon = issue(tpl)
    bill_ids = [make_bill(merchant, coupon, discount=1000).id for _ in range(6)]

    def pay(index):
        bill = db.session.get(Bill, bill_ids[index])
        won = coupons.consume_for_bill(bill, now_ms=NOW)
        db.session.commit()
        return won

    answers = race(len(bill_ids), pay)
    assert answers.count(True) == 1
    db.session.expire_all()
    stored = db.session.get(Coupon, coupon.id)
    assert stored.used_by_bill == bill_ids[answers.index(True)]
    assert db.session.get(CouponTemplate, tpl.id).use_count == 1


@pytest.mark.postgresql
def test_issuing_concurrently_respects_total_and_per_user_counts(app, merchant, template, race):
    tpl_id = template(total_count=3, max_count_per_user=1).id
    users = ["alice", "alice", "bob", "carol", "dave", "erin"]

    def claim(index):
        try:
            coupons.issue_coupon(merchant_row(), tpl_id, users[index])
            return True
        except CouponRefused:
            return False

    def merchant_row():
        from checkout.merchants import get_merchant
        return get_merchant(merchant.app_id)

    answers = race(len(users), claim)
    assert answers.count(True) == 3
    db.session.expire_all()
    issued = db.session.execute(db.select(Coupon.user_id).where(Coupon.template_id == tpl_id)).scalars().all()
    assert len(issued) == 3 and issued.count("alice") <= 1
    assert db.session.get(CouponTemplate, tpl_id).deliver_count == 3


# --- the CLI --------------------------------------------------------------------------------------

def test_cli_creates_a_template_issues_and_lists(runner, merchant):
    import json

    created = runner.invoke(args=["coupons", "template-create", merchant.app_id, "10 off 100",
                                  "--type", "0", "--discount", "10", "--limit-fee", "10000",
                                  "--json"])
    assert created.exit_code == 0, created.output
    template_id = json.loads(created.output)["id"]
    issued = runner.invoke(args=["coupons", "issue", merchant.app_id, template_id, "alice",
                                 "--json"])
    assert issued.exit_code == 0, issued.output
    coupon = json.loads(issued.output)
    assert coupon["user_id"] == "alice" and coupon["template"]["limit_fee"] == 10000
    listed = runner.invoke(args=["coupons", "list", merchant.app_id, "--user", "alice", "--json"])
    assert [row["id"] for row in json.loads(listed.output)] == [coupon["id"]]


def test_cli_percentage_template_valid_days(runner, merchant):
    import json

    created = runner.invoke(args=["coupons", "template-create", merchant.app_id, "10% off",
                                  "--type", "1", "--discount", "0.9", "--valid-days", "30",
                                  "--json"])
    wire = json.loads(created.output)
    assert (wire["discount"], wire["expiry_type"], wire["delivery_valid_days"]) == (0.9, 2, 30)


def test_cli_explains_a_refused_template(runner, merchant):
    result = runner.invoke(args=["coupons", "template-create", merchant.app_id, "bad",
                                 "--type", "1", "--discount", "9"])
    assert result.exit_code != 0 and "between 0 and 1" in result.output


def test_cli_refuses_issue_from_a_stopped_template(runner, merchant, template):
    tpl = template()
    assert runner.invoke(args=["coupons", "template-status", merchant.app_id, tpl.id,
                               "stop"]).exit_code == 0
    result = runner.invoke(args=["coupons", "issue", merchant.app_id, tpl.id, "alice"])
    assert result.exit_code != 0 and "not active" in result.output
