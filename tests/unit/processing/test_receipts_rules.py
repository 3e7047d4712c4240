"""The receipt rules on awkward cases seen on real receipts, written as OCR rows (not images)."""

import json
from datetime import date

import pytest

from steve_lite.processing.ocr import OcrLine, assemble_page
from steve_lite.processing.receipts import read_receipt
from steve_lite.processing.receipts.calibration import calibrated, fit_isotonic
from steve_lite.processing.receipts.countries import DATA_PATH
from steve_lite.processing.receipts.decision import review_reasons
from steve_lite.processing.receipts.identifiers import check_digit_holds
from steve_lite.processing.receipts.rows import clean_text
from tests.unit.processing.test_receipts import extract, ocr_line, page_of

# --- rows and OCR slips --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "cleaned"),
    [
        ("09/03/20184:21:23PM", "09/03/2018 4:21:23PM"),
        ("Date :26-05--201815:16:13", "Date :26-05--2018 15:16:13"),
        ("Data: 20-09-2517:37", "Data: 20-09-25 17:37"),
        ("2025/01/0216:22", "2025/01/02 16:22"),
        ("TOTAL:193.00", "TOTAL: 193.00"),
        ("RM23.60", "RM 23.60"),
        ("75.00SR", "75.00 SR"),
        ("AMT PAID: RMI11.90", "AMT PAID: RM 111.90"),
        ("TOTAL 1O.5O", "TOTAL 10.50"),
        ("TOTAL 12 .50", "TOTAL 12.50"),
    ],
)
def test_glued_tokens_are_split_and_digit_slips_undone(printed: str, cleaned: str) -> None:
    assert clean_text(printed) == cleaned


def test_a_label_and_its_amount_in_two_boxes_are_one_row_with_its_page_and_box() -> None:
    first = page_of("Corner Shop", ("Bread", "2.00"))
    second = assemble_page([ocr_line("TOTAL", 20, 300), ocr_line("EUR 2.00", 500, 302)])
    reading = read_receipt([first, second])
    assert reading.data["totalAmount"] == 2.00
    evidence = reading.evidence["totalAmount"]
    assert evidence["pageIndex"] == 1
    assert evidence["text"] == "TOTAL EUR 2.00"
    (left, top), (right, _), (_, bottom), _ = evidence["box"]
    assert (left, top, bottom) == (20, 300, 326) and right == 500 + 8 * 12
    fields = ("merchantName", "totalAmount", "currency", "purchaseDate", "receiptNumber", "taxId")
    assert set(reading.evidence) == {name for name in fields if reading.data[name] is not None}


# --- totals --------------------------------------------------------------------------------------


def test_a_gst_inclusive_total_wins_over_subtotal_tax_summary_and_change() -> None:
    result = extract(
        "AEON CO. (M) BHD",
        ("1x 000007996511", "75.00SR"),
        ("Sub-total", "75,00"),
        ("Total Sales Incl GST", "75.00"),
        ("CASH", "100.00"),
        ("Iten Count 1 Change Amt", "25.00"),
        "GST Summary Amount Tax",
        ("Total", "70.75 4.25"),
    )
    assert result["totalAmount"] == 75.00


def test_the_rounded_total_wins_over_the_total_before_rounding() -> None:
    result = extract(
        "Moonlight Cake House Sdn Bhd",
        ("Butter slice", "RM14.18"),
        ("Total (Incl GST, 0%)", "RM14.18"),
        ("Rounding", "RM0.02"),
        ("Grand Tota)", "RM14.20"),
        ("Total Paid", "RM20.20"),
        ("Change", "RM6.00"),
    )
    assert result["totalAmount"] == 14.20


def test_cash_minus_change_confirms_a_total_and_makes_it_more_certain() -> None:
    confirmed = read_receipt(
        [
            page_of(
                "Shop", ("Bread", "7.10"), ("TOTAL", "7.10"), ("CASH", "10.00"), ("CHANGE", "2.90")
            )
        ]
    )
    lone = read_receipt([page_of("Shop", ("Bread", "7.10"), ("TOTAL", "7.10"))])
    assert confirmed.data["totalAmount"] == lone.data["totalAmount"] == 7.10
    assert confirmed.scores["totalAmount"] > lone.scores["totalAmount"]
    assert "totalAmount" not in confirmed.doubts


def test_a_pay_row_is_the_cash_tendered_not_the_total() -> None:
    result = extract(
        "KING'S CONFECTIONERY S/B",
        ("181010 French Lo 8 2.40", "19.20"),
        ("Rounding Adj", "0.00"),
        ("Bue", "19.20"),
        ("Pay", "20.00"),
        ("Change", "0.80"),
    )
    assert result["totalAmount"] == 19.20


def test_disagreeing_totals_are_named_in_the_doubt() -> None:
    reading = read_receipt(
        [page_of("Shop", ("TOTAL", "72.08"), ("Bread", "1.00"), ("GRAND TOTAL", "4.08"))]
    )
    assert reading.data["totalAmount"] == 4.08
    assert reading.doubts["totalAmount"] == "2 candidates 4.08 and 72.08 disagree"


@pytest.mark.parametrize(
    "row", [("Total Qty", "3 6.36"), ("Total Savings", "-2.98"), ("TOTAL GST", "0.36")]
)
def test_count_savings_and_tax_rows_are_never_the_total(row: tuple[str, str]) -> None:
    result = extract("Shop", ("Glove", "6.36"), row, ("TotalSales (Inclusive of GST)", "6.36"))
    assert result["totalAmount"] == 6.36


def test_a_total_row_without_a_readable_amount_takes_the_total_the_other_rows_imply() -> None:
    result = extract(
        "FY Eagle Enterprise",
        ("12089 51 3.50", "7.00"),
        ("SUB-TOTAL", "6.60"),
        ("GST", "0.40"),
        ("ROUNDING", "0.00"),
        "TOTAL",
        ("CASH", "10.00"),
        ("CHANGE", "3.00"),
    )
    assert result["totalAmount"] == 7.00


def test_a_decimal_point_read_as_a_dash_on_a_total_row() -> None:
    assert extract("Shop", ("Raisins", "19.80"), ("NET TOTAL", "19-80"))["totalAmount"] == 19.80


# --- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("09/03/20184:21:23PM", "2018-03-09"),
        ("22 May 2018 18:51", "2018-05-22"),
        ("02-Apr-18", "2018-04-02"),
        ("13 MAC 2018", "2018-03-13"),
        ("8 Ogos 2018", "2018-08-08"),
        ("12 okt. 2018", "2018-10-12"),
        ("3 Ekim 2018", "2018-10-03"),
    ],
)
def test_dates_in_written_forms_and_languages(row: str, expected: str) -> None:
    assert extract("Shop", row, ("TOTAL", "RM 1.00"))["purchaseDate"] == expected


def test_a_date_in_the_future_is_not_the_purchase_date() -> None:
    reading = read_receipt(
        [page_of("Shop", "Best before 01/02/2031", "Date: 05/01/2026", ("TOTAL", "EUR 1.00"))],
        today=date(2026, 6, 1),
    )
    assert reading.data["purchaseDate"] == "2026-01-05"


def test_a_phone_number_or_product_code_is_not_a_date() -> None:
    result = extract("Shop", "TEL: 03-5523-5214", "Item 12.10.2018123", ("TOTAL", "EUR 1.00"))
    assert result["purchaseDate"] is None


def test_month_first_only_for_dollar_receipts() -> None:
    assert extract("Shop", "05/03/2026", ("TOTAL", "$1.00"))["purchaseDate"] == "2026-05-03"
    assert extract("Shop", "05/03/2026", ("TOTAL", "RM 1.00"))["purchaseDate"] == "2026-03-05"


# --- currency ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "currency"),
    [
        (("GST ID: 000381399040", "GARDENIA BAKERIES (KL) SDN BHD"), "MYR"),
        (("Kuala Lumpur, Malaysia",), "MYR"),
        (("Tel: +48 22 123 45 67", "Dziękujemy"), "PLN"),
        (("USt-IdNr. DE123456789", "Vielen Dank"), "EUR"),
        (("Bäckerei Müller GmbH", "SUMME"), "EUR"),
        (("GSTIN: 27ACEFH1234K1Z5",), "INR"),
    ],
)
def test_without_a_printed_currency_the_country_clues_give_it(
    rows: tuple[str, ...], currency: str
) -> None:
    reading = read_receipt([page_of("Shop", *rows, ("TOTAL", "12.50"))])
    assert reading.data["currency"] == currency
    assert reading.doubts["currency"] == "no currency printed; inferred from country clues"


@pytest.mark.parametrize(
    ("row", "currency"),
    [
        (("TOTAL", "RM 12.50"), "MYR"),
        (("RAZEM", "12,50 zł"), "PLN"),
        (("TOTAL", "Fr. 12.50"), "CHF"),
    ],
)
def test_local_currency_marks(row: tuple[str, str], currency: str) -> None:
    assert extract("Shop", row)["currency"] == currency


def test_a_dollar_sign_on_a_receipt_with_malaysian_clues_is_ringgit() -> None:
    result = extract("Unihakka International Sdn Bhd", "GST ID: 001234567890", ("TOTAL", "$11.40"))
    assert result["currency"] == "MYR"


@pytest.mark.parametrize(
    "row",
    ["RON95 PETROL 30.00", "LOT 3, SEK. 13, 40000 SHAH ALAM", "PURE SNAIL GEL 300"],
)
def test_words_that_only_look_like_currency_codes_are_not_currencies(row: str) -> None:
    assert extract("Shop", row, ("TOTAL", "12.50"))["currency"] is None


def test_bhd_of_sdn_bhd_is_not_the_bahraini_dinar() -> None:
    assert extract("Chef Lee Sdn Bhd 12.50", ("TOTAL", "12.50"))["currency"] == "MYR"


# --- merchant ------------------------------------------------------------------------------------


def test_a_merchant_running_over_two_rows_is_joined_without_its_registration_number() -> None:
    result = extract("POPULAR BOOK", "CO. (M) SDN BHD", "(Co. No. 113825-W)", ("TOTAL", "RM 1.00"))
    assert result["merchantName"] == "POPULAR BOOK CO. (M) SDN BHD"


def test_a_merchant_may_start_with_a_digit_and_its_legal_form_is_read_through_ocr_slips() -> None:
    result = extract(
        "99 SPEED MART 5/8 (519537-X)",
        "LOT P.T. 2811, JALAN ANGSA,",
        "TAMAN BERKELEY",
        "TOTAL 1.00",
    )
    assert result["merchantName"] == "99 SPEED MART S/B"


def test_headings_registration_and_cashier_rows_are_not_the_merchant() -> None:
    result = extract(
        "TAX INVOICE",
        "Company No: SA0127959-D",
        "Cashier: Anna",
        "Petrodeli Enterprise",
        ("TOTAL", "RM 1.00"),
    )
    assert result["merchantName"] == "Petrodeli Enterprise"


def test_the_row_with_the_legal_form_wins_over_a_brand_heading() -> None:
    result = extract("OWNED BY: CHEF LEE SDN BHD", ("TOTAL", "RM 1.00"))
    assert result["merchantName"] == "CHEF LEE SDN BHD"


def test_a_former_name_is_cut_and_sb_is_a_legal_form() -> None:
    result = extract(
        "TQ FOR SHOPPING WITH myNEWS.com",
        "OASIS VILLAGE",
        "LOUNGE 2, GROUND FLOOR, OASIS VILLAGE,NO 2,",
        "MYNEWS RETAIL SB(306295-X) FKA BISON STORES SB",
        ("TOTAL", "RM 1.00"),
    )
    assert result["merchantName"] == "MYNEWS RETAIL SB"


def test_the_row_after_formerly_known_as_is_not_the_merchant() -> None:
    result = extract(
        "Acme Foods",
        "formerly known as",
        "Old Name Holdings Limited",
        ("TOTAL", "GBP 1.00"),
    )
    assert result["merchantName"] == "Acme Foods"


def test_a_leading_terminal_code_is_not_part_of_the_name() -> None:
    assert extract("#000002 BAIFU (M) Sdn Bhd", ("TOTAL", "RM 1.00"))["merchantName"] == (
        "BAIFU (M) Sdn Bhd"
    )


def test_a_labelled_invoice_number_printed_large_is_not_the_merchant() -> None:
    page = assemble_page(
        [
            ocr_line("Yam Fresh", 20, 20, 40),
            ocr_line("No.145G, Jalan Rimbunan Raya 1,", 20, 70),
            ocr_line("Invoice: 001-9822 Dine In", 20, 110, 60),
            ocr_line("TOTAL RM 7.90", 20, 200),
        ]
    )
    assert read_receipt([page]).data["merchantName"] == "Yam Fresh"


def test_a_legal_form_glued_to_the_name_and_misread_is_split_and_spelt_right() -> None:
    result = extract("SKCA HARDWARE&TIMBERSONBHDLL", "CO. REG. NO.: 946207-D", "TOTAL RM 1.00")
    assert result["merchantName"] == "SKCA HARDWARE&TIMBER SDNBHD"


def merchant_reading(*rows: str | tuple[str, str]) -> tuple[str, float, str | None]:
    reading = read_receipt([page_of(*rows, ("TOTAL", "RM 1.00"))])
    data = reading.data
    return (
        data["merchantName"],
        data["fieldConfidence"]["merchantName"],
        reading.doubts.get("merchantName"),
    )


@pytest.mark.parametrize(
    ("slipped", "clean"),
    [
        ("perbang Alaf Restaurants Sdn Bhd", "Gerbang Alaf Restaurants Sdn Bhd"),
        ("BEMED (SP} SDN. BHD.", "BEMED (SP) SDN. BHD."),
        ("TSH POWER HARDWÀRE TRADING", "TSH POWER HARDWARE TRADING"),
        ("1cDONALD'S RESTAURANTS SDN BHD", "McDONALD'S RESTAURANTS SDN BHD"),
    ],
)
def test_a_name_with_signs_of_an_ocr_slip_is_doubted(slipped: str, clean: str) -> None:
    _, confidence, doubt = merchant_reading(slipped, "(65351-M)")
    _, clean_confidence, clean_doubt = merchant_reading(clean, "(65351-M)")
    assert doubt is not None and "OCR slip" in doubt
    assert clean_doubt is None and confidence < clean_confidence


def test_diacritics_on_a_receipt_that_uses_them_are_no_slip() -> None:
    _, _, doubt = merchant_reading("CAFÉ DU MARCHÉ SARL", "12 rue de la Paix", "Reçu n° 12")
    assert doubt is None
    # one marked letter in the name: the other rows decide (the name above marks it twice)
    _, confidence, used = merchant_reading("CAFÉ DE LA GARE SARL", "Reçu n° 12")
    _, alone_confidence, alone = merchant_reading("CAFÉ DE LA GARE SARL", "Recu n 12")
    assert used is None
    assert alone is not None and "OCR slip" in alone and alone_confidence < confidence


def test_a_brand_printed_above_the_company_makes_the_merchant_doubtful() -> None:
    name, confidence, doubt = merchant_reading("LEMON TREE RESTAURANT", "JTJ FOODS SDN BHD")
    _, alone, _ = merchant_reading("JTJ FOODS SDN BHD", "(1179227A)")
    assert name == "JTJ FOODS SDN BHD"
    assert doubt is not None and "another name is printed above" in doubt
    assert confidence < alone


def test_a_brand_joined_to_its_company_row_is_doubted_but_a_name_running_over_is_not() -> None:
    _, _, brand = merchant_reading("CITY MILK", "R&C VENTURE SDN BHD (1191015-W)")
    name, _, running = merchant_reading("POPULAR BOOK", "CO. (M) SDN BHD", "(Co. No. 113825-W)")
    assert brand is not None and "another name" in brand
    assert name == "POPULAR BOOK CO. (M) SDN BHD"
    assert running == "joined from 2 rows"


def test_a_name_printed_below_the_details_of_a_sale_is_doubted() -> None:
    name, _, doubt = merchant_reading(
        "...THANK YOU AND DO VISIT US AGAIN...",
        "Cashier [P.NISANTHI] Machine [003]",
        "POSTEL",
        "G.23 & G.22, Plaza Seri Setia,",
    )
    assert name == "POSTEL" and doubt is not None and "another name" in doubt


# --- tax ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "value", "holds"),
    [
        ("NIP", "526-000-12-46", True),
        ("NIP", "526-000-12-47", False),
        ("GSTIN", "27AAPFU0939F1ZV", True),
        ("GSTIN", "27AAPFU0939F1ZA", False),
        ("VAT", "GB980780684", True),
        ("VAT", "DE123456789", None),
    ],
)
def test_check_digits(label: str, value: str, holds: bool | None) -> None:
    assert check_digit_holds(label, value) is holds


def test_a_gst_id_is_a_tax_id() -> None:
    assert extract("Shop", "GST ID: 000381399040", ("TOTAL", "RM 1.00"))["taxId"] == "000381399040"


# --- confidence and the decision -----------------------------------------------------------------


def test_the_isotonic_map_is_monotone_and_smoothed() -> None:
    samples = [(0.1, False), (0.2, True), (0.3, False), (0.6, True), (0.7, True), (0.9, True)]
    blocks = fit_isotonic(samples)
    shares = [share for _, _, share in blocks]
    assert shares == sorted(shares)
    assert blocks[-1][2] < 1.0  # four right values say (4 + 1) / (4 + 2), not 1.0
    calibration = {"totalAmount": blocks}
    assert calibrated(calibration, "totalAmount", 0.95) == blocks[-1][2]
    assert calibrated(calibration, "totalAmount", 0.0) == blocks[0][2]
    assert calibrated({}, "totalAmount", 0.42) == 0.42


def test_a_score_between_two_blocks_gets_a_share_between_theirs() -> None:
    blocks = fit_isotonic([(0.2, False), (0.4, False), (0.8, True), (0.9, True)])
    assert blocks == [(0.2, 0.4, 0.25), (0.8, 0.9, 0.75)]
    calibration = {"merchantName": blocks}
    assert calibrated(calibration, "merchantName", 0.3) == 0.25  # inside the lower block
    assert calibrated(calibration, "merchantName", 0.6) == pytest.approx(0.5)  # halfway across
    assert calibrated(calibration, "merchantName", 0.85) == 0.75


def test_review_reasons_name_each_doubtful_required_field() -> None:
    data = {
        "totalAmount": 4.08,
        "merchantName": "Shop",
        "purchaseDate": None,
        "fieldConfidence": {"totalAmount": 0.33, "merchantName": 0.97, "purchaseDate": None},
    }
    doubts = {"totalAmount": "2 candidates 4.08 and 72.08 disagree"}
    required = ["merchantName", "totalAmount", "purchaseDate"]
    assert review_reasons(data, doubts, required, 0.6) == [
        "totalAmount: 2 candidates 4.08 and 72.08 disagree; confidence 0.33 is below 0.60",
        "purchaseDate: not found",
    ]


def test_a_doubted_merchant_holds_up_the_approval_with_its_reason() -> None:
    reading = read_receipt(
        [
            page_of(
                "SANYUSTATIONERYSHOP", "Owned By :", "SANYU SUPPLY SDN BHD", ("TOTAL", "RM 8.70")
            )
        ],
    )
    required = ["merchantName", "totalAmount", "currency", "purchaseDate"]
    reasons = review_reasons(reading.data, reading.doubts, required, 0.85)
    merchant = [reason for reason in reasons if reason.startswith("merchantName: ")]
    assert merchant and "another name is printed above it" in merchant[0]
    assert merchant[0].endswith("is below 0.85")
    assert "purchaseDate: not found" in reasons


def test_the_shipped_currency_table_is_what_babel_builds() -> None:
    pytest.importorskip("babel")
    from tools.currency_table import build_table

    assert json.loads(DATA_PATH.read_text(encoding="utf-8")) == build_table()


def test_line_boxes_on_a_skewed_photo_still_make_one_row() -> None:
    lines = [
        OcrLine("TOTAL", 0.95, [[20, 300], [80, 301], [80, 325], [20, 324]]),
        OcrLine("RM 9.90", 0.95, [[500, 310], [590, 311], [590, 335], [500, 334]]),
        OcrLine("Corner Shop", 0.95, [[20, 20], [400, 27], [400, 51], [20, 44]]),
    ]
    assert read_receipt([assemble_page(lines)]).data["totalAmount"] == 9.90
