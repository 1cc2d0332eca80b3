"""Card rules (checkout.cards): the one place the gateway and the card form
decide whether a card may be charged (issue 5 item 1, seed 002 lines 45-55)."""

import pytest

from checkout import cards

TODAY = (2026, 11)


def card_info(**changes):
    info = {"card_number": "4242424242424242", "expire_month": 12, "expire_year": 2030,
            "cvv": "123", "first_name": "Jim", "last_name": "Green", "card_type": "visa"}
    info.update(changes)
    return {k: v for k, v in info.items() if v is not None}


def problems(info):
    with pytest.raises(cards.CardRefused) as refused:
        cards.check_card(info, today=TODAY)
    return {p.code for p in refused.value.problems}


# --- brands -----------------------------------------------------------------------

@pytest.mark.parametrize("number, brand", [
    ("4242424242424242", "visa"),
    ("4222222222222", "visa"),                 # 13 digits
    ("5555555555554444", "mastercard"),
    ("2223003122003222", "mastercard"),        # 2-series
    ("6011111111111117", "discover"),
    ("6445644564456445", "discover"),
    ("6500000000000002", "discover"),
    ("378282246310005", "amex"),
    ("371449635398431", "amex"),
])
def test_each_brand_is_detected_and_accepted(number, brand):
    cvv = "1234" if brand == "amex" else "123"
    card = cards.check_card(card_info(card_number=number, card_type=brand, cvv=cvv), today=TODAY)
    assert card.brand == brand
    assert cards.detect_brand(number) == brand
    assert card.last4 == number[-4:]


def test_brand_is_detected_while_typing():
    assert cards.detect_brand("4") == "visa"
    assert cards.detect_brand("37") == "amex"
    assert cards.detect_brand("2221") == "mastercard"
    assert cards.detect_brand("6011") == "discover"
    assert cards.detect_brand("3") is None
    assert cards.detect_brand("9999") is None


def test_spaces_and_dashes_in_the_number_are_ignored():
    card = cards.check_card(card_info(card_number="4242 4242-4242 4242"), today=TODAY)
    assert card.number == "4242424242424242"


def test_unknown_brand_is_refused():
    assert problems(card_info(card_number="9999999999999995")) == {"number_brand"}


def test_card_type_must_match_the_number():
    assert problems(card_info(card_type="mastercard")) == {"type_mismatch"}


def test_card_type_must_be_a_known_brand():
    assert problems(card_info(card_type="jcb")) == {"type_unknown"}


def test_card_type_is_required():
    assert problems(card_info(card_type="")) == {"type_missing"}


def test_card_type_is_case_insensitive():
    assert cards.check_card(card_info(card_type="VISA"), today=TODAY).brand == "visa"


# --- number --------------------------------------------------------------------------

def test_luhn_rule():
    assert cards.luhn_ok("4242424242424242")
    assert not cards.luhn_ok("4242424242424241")
    assert not cards.luhn_ok("")


def test_number_failing_luhn_is_refused():
    assert problems(card_info(card_number="4242424242424241")) == {"number_luhn"}


def test_number_with_wrong_length_for_its_brand_is_refused():
    # 15 digits starting with 4 that pass Luhn: not a Visa length.
    assert problems(card_info(card_number="424242424242428")) == {"number_length"}


def test_number_with_letters_is_refused():
    assert problems(card_info(card_number="4242abcd42424242")) == {"number_format"}


def test_number_must_be_a_string():
    assert problems(card_info(card_number=4242424242424242)) == {"number_format"}


def test_number_is_required():
    assert "number_missing" in problems(card_info(card_number=""))


# --- expiry ----------------------------------------------------------------------------

def test_card_is_valid_through_its_expiry_month():
    card = cards.check_card(card_info(expire_month=11, expire_year=2026), today=TODAY)
    assert (card.exp_month, card.exp_year) == (11, 2026)


def test_card_expired_last_month_is_refused():
    assert problems(card_info(expire_month=10, expire_year=2026)) == {"expired"}


def test_card_expired_last_year_is_refused():
    assert problems(card_info(expire_month=12, expire_year=2025)) == {"expired"}


def test_expiry_month_out_of_range_is_refused():
    assert problems(card_info(expire_month=13)) == {"expiry_month"}
    assert problems(card_info(expire_month=0)) == {"expiry_month"}


def test_expiry_as_digit_strings_is_accepted():
    card = cards.check_card(card_info(expire_month="07", expire_year="2030"), today=TODAY)
    assert (card.exp_month, card.exp_year) == (7, 2030)


def test_two_digit_year_is_refused():
    assert problems(card_info(expire_year=30)) == {"expiry_year"}


def test_year_far_in_the_future_is_refused():
    assert problems(card_info(expire_year=2099)) == {"expiry_year"}


def test_expiry_is_required():
    assert problems(card_info(expire_month="")) == {"expiry_missing"}


# --- CVV ------------------------------------------------------------------------------------

def test_cvv_of_three_digits_for_visa():
    assert cards.check_card(card_info(cvv="007"), today=TODAY).cvv == "007"


def test_cvv_as_integer_is_accepted():
    assert cards.check_card(card_info(cvv=204), today=TODAY).cvv == "204"


def test_four_digit_cvv_is_refused_for_visa():
    assert problems(card_info(cvv="1234")) == {"cvv_format"}


def test_three_digit_cvv_is_refused_for_amex():
    info = card_info(card_number="378282246310005", card_type="amex", cvv="123")
    assert problems(info) == {"cvv_format_amex"}


def test_cvv_with_letters_is_refused():
    assert problems(card_info(cvv="12a")) == {"cvv_format"}


def test_cvv_is_required():
    assert problems(card_info(cvv="")) == {"cvv_missing"}


# --- names and shape ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["first_name", "last_name"])
def test_names_are_required(name):
    assert problems(card_info(**{name: "  "})) == {f"{name}_missing"}


def test_overlong_name_is_refused():
    assert problems(card_info(first_name="J" * 65)) == {"first_name_long"}


def test_every_problem_is_reported_at_once():
    info = {"card_number": "4242424242424241", "expire_month": 1, "expire_year": 2020,
            "cvv": "1", "first_name": "", "last_name": "", "card_type": "amex"}
    assert problems(info) == {"number_luhn", "expired", "cvv_format", "first_name_missing",
                              "last_name_missing", "type_mismatch"}


def test_not_a_map_is_refused():
    assert problems("4242424242424242") == {"not_a_map"}


def test_card_repr_and_messages_never_show_number_or_cvv():
    card = cards.check_card(card_info(cvv="987"), today=TODAY)
    assert "4242424242424242" not in repr(card) and "987" not in repr(card)
    with pytest.raises(cards.CardRefused) as refused:
        cards.check_card(card_info(card_number="4242424242424241", cvv="98"), today=TODAY)
    assert "4242424242424241" not in refused.value.err_detail
    assert "98" not in refused.value.err_detail


def test_saved_card_is_shown_masked():
    assert cards.masked("visa", "4242") == "Visa •••• 4242"
    assert cards.masked("amex", "0005") == "American Express •••• 0005"
