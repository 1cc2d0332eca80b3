"""``flask --app wsgi refunds create|approve|deny|list|show`` (issue 13 item 4):
amounts in yuan converted once and exactly, the refund service's rules and
result codes (explained), one line per refund."""

from __future__ import annotations

import json

import pytest

from checkout.db import db
from checkout.models import Bill, Refund
from checkout.sandbox import bills, refunds, settlement
from checkout.clock import now_ms

_counter = iter(range(10 ** 6))


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def paid_bill(merchant, channel="ALI_WEB", *, total_fee=1000, test_mode=True) -> Bill:
    """A bill paid at the sandbox (test mode): the commands are specified on
    the sandbox's refunds, which complete here; a live bill's go to its provider."""
    answer = bills.create_bill(merchant, {
        "channel": channel, "total_fee": total_fee, "title": "tea",
        "bill_no": f"C{now_ms()}{next(_counter):06d}",
        "return_url": "https://shop.example.com/return"}, test_mode=test_mode)
    assert answer["result_code"] == 0, answer
    bill = db.session.get(Bill, answer["id"])
    assert settlement.mark_paid(bill)
    return bill


def cli(runner, *args, test_mode=True):
    """``flask refunds …``, with ``--test`` (the sandbox's bills and refunds) unless told."""
    return runner.invoke(args=["refunds", *args, *(["--test"] if test_mode else [])])


def only_refund() -> Refund:
    db.session.expire_all()
    return db.session.execute(db.select(Refund)).scalar_one()


# --- create ------------------------------------------------------------------------------

@pytest.mark.parametrize("yuan, fen", [("2.5", 250), ("0.01", 1), ("10", 1000), ("3.10", 310)])
def test_create_converts_yuan_to_fen_exactly(runner, merchant, yuan, fen):
    bill = paid_bill(merchant)
    result = cli(runner, "create", merchant.app_id, bill.bill_no, yuan)
    assert result.exit_code == 0, result.output
    assert only_refund().refund_fee == fen


@pytest.mark.parametrize("yuan", ["0.001", "1.005", "abc", "0", "-1", "NaN"])
def test_create_refuses_an_amount_that_is_not_whole_fen_above_zero(runner, merchant, yuan):
    bill = paid_bill(merchant)
    result = cli(runner, "create", merchant.app_id, bill.bill_no, yuan)
    assert result.exit_code != 0
    assert "AMOUNT_YUAN" in result.output
    assert db.session.execute(db.select(Refund)).first() is None


def test_create_says_what_it_did_in_one_line_per_refund(runner, make_live_merchant,
                                                        simulator_server, pay_at_alipay):
    merchant = make_live_merchant()  # live: refunded at once at the Alipay simulator
    bill = pay_at_alipay(bills.create_bill(merchant, {
        "channel": "ALI_WEB", "total_fee": 1000, "title": "tea",
        "bill_no": f"C{now_ms()}{next(_counter):06d}",
        "return_url": "https://shop.example.com/return"}))
    result = cli(runner, "create", merchant.app_id, bill.bill_no, "2.50",
                 "--refund-no", refunds.china_day(now_ms()) + "abc123", test_mode=False)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == (f"Refund created: ¥2.50 of bill {bill.bill_no}, refund_no "
                        f"{refunds.china_day(now_ms())}abc123.")
    assert lines[1].startswith(only_refund().id)
    assert "¥2.50 of ¥10.00" in lines[1] and "succeeded" in lines[1]


def test_create_makes_up_a_refund_no_of_today(runner, merchant):
    bill = paid_bill(merchant)
    assert cli(runner, "create", merchant.app_id, bill.bill_no, "1").exit_code == 0
    number = only_refund().refund_no
    assert number.startswith(refunds.china_day(now_ms())) and len(number) == 18


def test_create_with_approval_makes_a_pending_pre_refund(runner, merchant):
    bill = paid_bill(merchant)
    result = cli(runner, "create", merchant.app_id, bill.bill_no, "1", "--approval")
    assert result.exit_code == 0, result.output
    assert "waits for `refunds approve`" in result.output
    assert only_refund().status == Refund.PENDING_APPROVAL


def test_create_in_test_mode_refunds_the_test_bill(runner, merchant):
    bill = paid_bill(merchant, test_mode=True)
    assert cli(runner, "create", merchant.app_id, bill.bill_no, "1", test_mode=False).exit_code != 0
    result = cli(runner, "create", merchant.app_id, bill.bill_no, "1", test_mode=True)
    assert result.exit_code == 0, result.output
    assert "(test mode)" in result.output and only_refund().test_mode


def test_a_refusal_names_and_explains_its_result_code(runner, merchant):
    bill = paid_bill(merchant, total_fee=1000)
    result = cli(runner, "create", merchant.app_id, bill.bill_no, "10.01")
    assert result.exit_code == 1
    assert "refused: 12 REFUND_AMOUNT_TOO_LARGE (more than what is left to refund" \
        in result.output


def test_an_unknown_bill_is_no_such_bill_explained(runner, merchant):
    result = cli(runner, "create", merchant.app_id, "NOSUCHBILL123", "1")
    assert "8 NO_SUCH_BILL (no bill with this bill_no" in result.output


def test_an_unknown_app_is_said_plainly(runner):
    result = cli(runner, "create", "no-such-app", "BILL12345678", "1")
    assert result.exit_code == 1 and "no merchant with app_id no-such-app" in result.output


# --- approve / deny ------------------------------------------------------------------------

def pre_refund(runner, merchant, bill, yuan="1") -> str:
    assert cli(runner, "create", merchant.app_id, bill.bill_no, yuan, "--approval").exit_code == 0
    db.session.expire_all()
    return db.session.execute(db.select(Refund.id).where(Refund.bill_id == bill.id)
                              .order_by(Refund.create_time.desc())).scalars().first()


def test_approve_completes_pre_refunds_of_several_channels_one_line_each(runner, merchant):
    ali, un = paid_bill(merchant, "ALI_WEB"), paid_bill(merchant, "UN_WEB")
    first, second = pre_refund(runner, merchant, ali), pre_refund(runner, merchant, un)
    result = cli(runner, "approve", merchant.app_id, first, second)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"{first}: approved; {first}") and "succeeded" in lines[0]
    assert lines[1].startswith(f"{second}: approved; {second}")
    db.session.expire_all()
    assert {db.session.get(Refund, i).status for i in (first, second)} == {Refund.SUCCESS}


def test_approving_a_mixed_batch_says_which_failed_and_why(runner, merchant):
    bill = paid_bill(merchant)
    pending = pre_refund(runner, merchant, bill)
    result = cli(runner, "approve", merchant.app_id, pending, "no-such-id")
    assert result.exit_code == 1
    assert f"{pending}: approved" in result.output
    assert "no-such-id: not approved: 13 NO_SUCH_REFUND" in result.output
    assert "1 of 2 refunds were not approved" in result.output


def test_approving_twice_explains_it_was_already_approved(runner, merchant):
    pending = pre_refund(runner, merchant, paid_bill(merchant))
    assert cli(runner, "approve", merchant.app_id, pending).exit_code == 0
    again = cli(runner, "approve", merchant.app_id, pending)
    assert again.exit_code == 1
    assert "13 NO_SUCH_REFUND (no such refund, or it is not a pre-refund awaiting approval)" \
        in again.output and "already been approved" in again.output


def test_deny_keeps_the_reason_and_frees_the_amount(runner, merchant):
    bill = paid_bill(merchant, total_fee=1000)
    pending = pre_refund(runner, merchant, bill, "10")
    result = cli(runner, "deny", merchant.app_id, pending, "--reason", "not returned")
    assert result.exit_code == 0, result.output
    assert f"{pending}: denied; " in result.output and "denied (not returned)" in result.output
    assert cli(runner, "create", merchant.app_id, bill.bill_no, "10").exit_code == 0


def test_deny_needs_a_reason(runner, merchant):
    result = cli(runner, "deny", merchant.app_id, "some-id")
    assert result.exit_code == 2 and "--reason" in result.output


# --- list / show ---------------------------------------------------------------------------

def test_list_shows_one_line_per_refund_newest_first(runner, merchant):
    bill = paid_bill(merchant)
    cli(runner, "create", merchant.app_id, bill.bill_no, "1")
    cli(runner, "create", merchant.app_id, bill.bill_no, "2")
    lines = cli(runner, "list", merchant.app_id).output.strip().splitlines()
    assert len(lines) == 2
    assert "¥2.00 of ¥10.00" in lines[0] and "¥1.00 of ¥10.00" in lines[1]


def test_list_pending_shows_only_pre_refunds_awaiting_approval(runner, merchant):
    done = paid_bill(merchant)
    cli(runner, "create", merchant.app_id, done.bill_no, "1")
    waiting = pre_refund(runner, merchant, paid_bill(merchant))
    lines = cli(runner, "list", merchant.app_id, "--pending").output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(waiting) and "awaiting approval" in lines[0]


def test_list_by_bill_no_and_as_json(runner, merchant):
    wanted, other = paid_bill(merchant), paid_bill(merchant)
    cli(runner, "create", merchant.app_id, wanted.bill_no, "1")
    cli(runner, "create", merchant.app_id, other.bill_no, "1")
    found = json.loads(cli(runner, "list", merchant.app_id, "--bill-no", wanted.bill_no,
                           "--json").output)
    assert [view["bill_no"] for view in found] == [wanted.bill_no]
    assert (found[0]["refund_fee"], found[0]["status"], found[0]["result"]) == \
        (100, "SUCCESS", True)


def test_list_says_when_there_is_nothing(runner, merchant):
    assert cli(runner, "list", merchant.app_id, "--pending", test_mode=False).output.strip() == \
        "No refunds awaiting approval."
    assert cli(runner, "list", merchant.app_id, "--pending").output.strip() == \
        "No refunds awaiting approval (test mode)."


def test_show_prints_every_field(runner, merchant):
    bill = paid_bill(merchant)
    cli(runner, "create", merchant.app_id, bill.bill_no, "1.5")
    refund = only_refund()
    output = cli(runner, "show", merchant.app_id, refund.id).output
    for field in ("bill_no", "refund_no", "refund_fee: 150", "total_fee: 1000", "status: SUCCESS",
                  "China time"):
        assert field in output
    as_json = json.loads(cli(runner, "show", merchant.app_id, refund.id, "--json").output)
    assert as_json["id"] == refund.id and as_json["sub_channel"] == "ALI_WEB"


def test_show_of_an_unknown_refund_is_no_such_refund(runner, merchant):
    result = cli(runner, "show", merchant.app_id, "nothing")
    assert result.exit_code == 1 and "13 NO_SUCH_REFUND" in result.output


def test_the_commands_ask_for_the_migration_first(runner, app):
    from checkout.cli import db as db_cli

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db_cli, "pending_migrations_message",
                      lambda: "run `flask --app wsgi db upgrade` first")
        result = cli(runner, "list", "any-app")
    assert result.exit_code == 1 and "db upgrade` first" in result.output
