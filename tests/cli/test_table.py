"""The table renderer's rules, on small hand-made cases (cli/_table.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mlcost.cli._table import _decimals_to_differ, fit_widths, format_cell, short_id, top_rows


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        # An AWS ARN: its instance id, whole, from the last separator.
        (
            "arn:aws:ec2:us-east-1:800072191555:instance/i-0b584686be8ca1e91b",
            "…/i-0b584686be8ca1e91b",
        ),
        # An Azure resource id: as many trailing segments as fit (here the VM name).
        (
            "/subscriptions/cc905dca-e1f2-4c7b-9d0a-2f6b3c1d8e7a/resourceGroups/rg/providers/"
            "Microsoft.Compute/virtualMachines/az-exp-0",
            "…/az-exp-0",
        ),
        # An S3 ARN whose bucket is longer than the width: the bucket's end.
        ("arn:aws:s3:::acme-shared-artifacts-eu-west-1", "…red-artifacts-eu-west-1"),
        # No separator (a GUID): its last characters.
        ("cc905dca-e1f2-4c7b-9d0a-2f6b3c1d8e7a", "…-4c7b-9d0a-2f6b3c1d8e7a"),
        # Short enough: as is.
        ("i-0abc123", "i-0abc123"),
    ],
)
def test_ids_keep_their_end_and_are_never_cut_in_the_middle(value: str, shown: str) -> None:
    short = short_id(value)
    assert short == shown
    assert len(short) <= 24
    assert value.endswith(short.lstrip("…"))  # the end, whole: only the front is dropped


def test_two_ids_that_differ_only_at_the_end_stay_apart() -> None:
    a = "arn:aws:ec2:us-east-1:800072191547:instance/i-70060f754df716c78"
    b = "arn:aws:ec2:us-east-1:800072191547:instance/i-719bfcd8f94099dc9"
    assert short_id(a) != short_id(b)


def test_unit_costs_get_the_decimals_that_tell_them_apart() -> None:
    assert _decimals_to_differ([1234.5, 17.25]) == 2  # money: 2 decimals
    assert _decimals_to_differ([0.00014, 0.00009, 0.00005]) == 5  # none reads 0.00
    assert _decimals_to_differ([0.0123, 0.0124]) == 4  # differ at the 4th decimal
    assert _decimals_to_differ([]) == 2


def test_cells_are_written_by_kind() -> None:
    assert format_cell(Decimal("200000"), "money") == "200,000.00"
    assert format_cell(0.1454, "ratio") == "14.5%"
    assert format_cell(73.6978640253352) == "73.7"
    assert format_cell(80.0) == "80"
    assert format_cell(50304) == "50,304"
    assert format_cell(0.000123) == "0.000123"
    assert format_cell(None, "money") == ""
    assert format_cell(True) == "yes"


def test_fit_widths_keep_numbers_and_share_the_rest() -> None:
    # 3 columns: a name (natural 30, min 12), an amount (10, rigid), a sentence (60, min 12).
    natural, minimum = [30, 10, 60], [12, 10, 12]
    assert fit_widths(natural, minimum, 200, overhead=10) == natural  # all fits
    widths = fit_widths(natural, minimum, 80, overhead=10)
    assert widths[1] == 10 and sum(widths) == 70
    assert widths[0] >= 12 and widths[2] >= 12
    # Not even the minimums fit: nothing goes below its minimum (the terminal wraps).
    assert fit_widths(natural, minimum, 20, overhead=10) == minimum


def test_top_and_min_say_what_they_left_out_per_currency() -> None:
    # Not in order: the largest come first whatever the order given.
    rows = [
        {"owner": "d", "total": 0.0, "currency": "USD"},
        {"owner": "a", "total": 500.0, "currency": "USD"},
        {"owner": "c", "total": 20.0, "currency": "USD"},
        {"owner": "b", "total": 300.0, "currency": "EUR"},
    ]
    kept, note = top_rows(rows, "total", top=1, minimum=None, noun="owner", currency="currency")
    assert [r["owner"] for r in kept] == ["a"]
    assert note == ("Showing 1 of 4 owners; the other 3 add up to 300.00 EUR + 20.00 USD (total).")
    kept, note = top_rows(rows, "total", top=None, minimum=10, noun="owner", currency="USD")
    assert [r["owner"] for r in kept] == ["a", "b", "c"] and note is not None
    kept, note = top_rows(rows, "total", top=10, minimum=None, noun="owner", currency="USD")
    assert [r["owner"] for r in kept] == ["a", "b", "c", "d"] and note is None
    assert top_rows(rows, "total", top=None, minimum=None, noun="owner", currency="USD") == (
        rows,
        None,
    )
