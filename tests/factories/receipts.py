"""Receipt photos with known content, drawn with Pillow.

`random_receipt_spec(seed)` picks a country profile (currency, number and date conventions,
labels), a merchant, 2..6 items whose sum is the total, a layout and a font;
`render_receipt(spec)` draws it on white paper laid on a grey table and returns JPEG bytes.

`awkward=True` adds what real receipts showed the plain ones lack: a date glued to its time
and a label glued to its amount (`TOTAL:12.50`), several totals on one receipt (a total before
rounding, a rounding row and the rounded total), and tall narrow paper.
"""

import datetime as dt
import math
import random
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from PIL import Image, ImageDraw

from tests.factories.pages import (
    INK,
    PAPER_WHITE,
    available_fonts,
    bold_font_path,
    default_font_path,
    encode_image,
    has_glyphs,
    load_font,
)

AMOUNT_FORMATS = ("1,234.56", "1.234,56", "123,45", "1 234,56", "1234.56")
DATE_FORMATS = {
    "iso": "%Y-%m-%d",
    "dmy_slash": "%d/%m/%Y",
    "mdy_slash": "%m/%d/%Y",
    "dmy_dot": "%d.%m.%Y",
    "dmy_dash_short": "%d-%m-%y",
    "ymd_slash": "%Y/%m/%d",
    "mon_d_y": "%b %d, %Y",
    "d_mon_y": "%d %b %Y",
}
LAYOUTS = ("centered", "left", "quantities")
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY"})
SAFE_LETTERS = "ACEFHKMPRTX"


@dataclass(frozen=True)
class ReceiptSpec:
    """Everything printed on one receipt; the fields an extractor must find are the first nine."""

    merchant: str
    items: list[tuple[str, float]]
    total: float
    currency: str
    date: dt.date
    date_format: str
    amount_format: str
    receipt_number: str
    tax_id: str
    address: str = "1 High Street, Springfield"
    phone: str = "Tel: 555 0100"
    currency_mark: str = ""
    currency_position: str = "prefix"
    date_label: str = "Date:"
    time_text: str = "14:32"
    total_label: str = "TOTAL"
    subtotal_label: str = "SUBTOTAL"
    tax_label: str = "TAX"
    tax_rate: int = 10
    receipt_label: str = "Receipt No:"
    tax_id_label: str = "VAT No:"
    payment: str = "card"
    layout: str = "centered"
    font_path: str | None = None
    extra_lines: list[str] = field(default_factory=list)
    glued: bool = False
    rounding: float = 0.0
    paper_width: int = 600

    @property
    def decimals(self) -> int:
        """Digits after the decimal separator in this currency."""
        return 0 if self.currency in ZERO_DECIMAL_CURRENCIES else 2

    @property
    def date_text(self) -> str:
        """The date as printed."""
        return self.date.strftime(DATE_FORMATS[self.date_format])


@dataclass(frozen=True)
class Profile:
    """A country's conventions: currency and how it is printed, number and date styles, labels."""

    currency: str
    marks: tuple[tuple[str, str], ...]
    amount_formats: tuple[str, ...]
    date_formats: tuple[str, ...]
    date_labels: tuple[str, ...]
    total_labels: tuple[str, ...]
    subtotal_label: str
    tax_label: str
    tax_rate: int
    receipt_labels: tuple[str, ...]
    tax_id_label: str
    tax_id_pattern: str
    receipt_number_patterns: tuple[str, ...]
    merchants: tuple[str, ...]
    addresses: tuple[str, ...]
    phones: tuple[str, ...]
    items: tuple[str, ...]


ENGLISH_ITEMS = (
    "Coffee beans",
    "Whole milk",
    "Sourdough bread",
    "Bananas",
    "Greek yogurt",
    "Orange juice",
    "Olive oil",
    "Cheddar cheese",
    "Cherry tomatoes",
    "Chicken breast",
    "Basmati rice",
    "Dish soap",
    "Paper towels",
    "Dark chocolate",
    "Sparkling water",
    "Cappuccino",
    "Blueberry muffin",
    "Garden salad",
    "Notebook",
    "Batteries",
)
PROFILES = (
    Profile(
        currency="USD",
        marks=(("$", "prefix"), ("USD", "prefix")),
        amount_formats=("1,234.56",),
        date_formats=("mdy_slash", "mon_d_y", "iso"),
        date_labels=("Date:", ""),
        total_labels=("TOTAL", "TOTAL DUE", "AMOUNT DUE", "GRAND TOTAL"),
        subtotal_label="SUBTOTAL",
        tax_label="SALES TAX",
        tax_rate=8,
        receipt_labels=("Receipt #", "Trans #", "Invoice No:"),
        tax_id_label="EIN",
        tax_id_pattern="##-#######",
        receipt_number_patterns=("######", "####"),
        merchants=(
            "Blue Ridge Market",
            "Sunset Grocery",
            "Harbor Coffee Roasters",
            "Greenfield Hardware",
            "Maple Street Pharmacy",
        ),
        addresses=(
            "418 Elm Avenue, Denver CO",
            "92 Ocean Drive, Miami FL",
            "7 Pine Road, Austin TX",
        ),
        phones=("Tel: (303) 555-0142", "Phone 512-555-0199"),
        items=ENGLISH_ITEMS,
    ),
    Profile(
        currency="GBP",
        marks=(("£", "prefix"), ("GBP", "prefix")),
        amount_formats=("1,234.56",),
        date_formats=("dmy_slash", "d_mon_y"),
        date_labels=("Date:", ""),
        total_labels=("TOTAL", "BALANCE DUE", "TOTAL DUE"),
        subtotal_label="SUBTOTAL",
        tax_label="VAT 20%",
        tax_rate=20,
        receipt_labels=("Receipt No:", "Receipt #"),
        tax_id_label="VAT No:",
        tax_id_pattern="GB#########",
        receipt_number_patterns=("######", "@#####"),
        merchants=("The Crown Bakery", "Riverside Books", "Camden Deli", "Kensington Florist"),
        addresses=("12 Market Street, London", "3 Castle Lane, York", "88 Mill Road, Leeds"),
        phones=("Tel: 020 7946 0958", "Tel 0113 496 0321"),
        items=ENGLISH_ITEMS,
    ),
    Profile(
        currency="EUR",
        marks=(("€", "suffix"), ("EUR", "suffix"), ("EUR", "prefix")),
        amount_formats=("1.234,56", "123,45"),
        date_formats=("dmy_dot",),
        date_labels=("Datum:", ""),
        total_labels=("SUMME", "GESAMT", "SUMME EUR"),
        subtotal_label="NETTO",
        tax_label="MwSt 19%",
        tax_rate=19,
        receipt_labels=("Bon Nr", "Beleg-Nr."),
        tax_id_label="USt-IdNr:",
        tax_id_pattern="DE#########",
        receipt_number_patterns=("####", "#####"),
        merchants=(
            "Bäckerei Müller",
            "Café Sonnenschein",
            "Getränke Hoffmann",
            "Buchhandlung Lange",
        ),
        addresses=("Hauptstraße 14, Berlin", "Marktplatz 3, München", "Lindenweg 27, Köln"),
        phones=("Tel. 030 1234567", "Tel: 089 765432"),
        items=(
            "Brötchen",
            "Vollmilch",
            "Gouda Käse",
            "Äpfel Elstar",
            "Kaffee Crema",
            "Apfelschorle",
            "Laugenbrezel",
            "Butter",
            "Bio Eier",
            "Orangensaft",
            "Mineralwasser",
            "Schokolade",
        ),
    ),
    Profile(
        currency="PLN",
        marks=(("zł", "suffix"), ("PLN", "suffix"), ("PLN", "prefix")),
        amount_formats=("123,45", "1 234,56"),
        date_formats=("iso", "dmy_dash_short", "dmy_dot"),
        date_labels=("Data:", ""),
        total_labels=("SUMA", "RAZEM", "SUMA PLN"),
        subtotal_label="SPRZEDAŻ OPODATK.",
        tax_label="PTU A 23%",
        tax_rate=23,
        receipt_labels=("Nr paragonu:", "Paragon nr"),
        tax_id_label="NIP",
        tax_id_pattern="###-###-##-##",
        receipt_number_patterns=("#####", "####/####"),
        merchants=("Piekarnia Złoty Kłos", "Delikatesy Kowalski", "Apteka Pod Lipami"),
        addresses=("ul. Długa 15, Gdańsk", "ul. Polna 8, Kraków", "al. Róż 2, Warszawa"),
        phones=("tel. 22 123 45 67", "Tel: 58 301 22 33"),
        items=(
            "Chleb żytni",
            "Masło",
            "Mleko",
            "Jabłka",
            "Ser żółty",
            "Kawa mielona",
            "Pomidory",
            "Woda mineralna",
            "Jogurt naturalny",
            "Czekolada",
        ),
    ),
    Profile(
        currency="EUR",
        marks=(("€", "prefix"), ("EUR", "suffix")),
        amount_formats=("1.234,56",),
        date_formats=("dmy_slash",),
        date_labels=("Data", ""),
        total_labels=("TOTALE", "TOTALE EURO"),
        subtotal_label="IMPONIBILE",
        tax_label="IVA 22%",
        tax_rate=22,
        receipt_labels=("Scontrino N.", "Receipt No:"),
        tax_id_label="P.IVA",
        tax_id_pattern="IT###########",
        receipt_number_patterns=("####-####", "####"),
        merchants=("Trattoria Da Mario", "Panificio Rossi", "Caffè Centrale"),
        addresses=("Via Roma 21, Milano", "Piazza Garibaldi 4, Torino"),
        phones=("Tel. 02 8765 4321",),
        items=(
            "Caffè espresso",
            "Cornetto",
            "Pizza margherita",
            "Acqua frizzante",
            "Tiramisù",
            "Panino",
            "Aranciata",
        ),
    ),
    Profile(
        currency="CHF",
        marks=(("CHF", "prefix"), ("CHF", "suffix")),
        amount_formats=("1,234.56", "1234.56"),
        date_formats=("dmy_dot",),
        date_labels=("Datum:", ""),
        total_labels=("TOTAL", "TOTAL CHF"),
        subtotal_label="ZWISCHENSUMME",
        tax_label="MWST 8.1%",
        tax_rate=8,
        receipt_labels=("Beleg Nr.", "Bon Nr"),
        tax_id_label="UID",
        tax_id_pattern="CHE-###.###.###",
        receipt_number_patterns=("#####",),
        merchants=("Confiserie Bergmann", "Papeterie du Lac", "Alpen Apotheke"),
        addresses=("Bahnhofstrasse 45, Zürich", "Rue du Rhône 12, Genève"),
        phones=("Tel. 044 211 33 44",),
        items=(*ENGLISH_ITEMS[:10], "Pralinen", "Gipfeli", "Bergkäse"),
    ),
    Profile(
        currency="SEK",
        marks=(("kr", "suffix"), ("SEK", "suffix")),
        amount_formats=("1 234,56", "123,45"),
        date_formats=("iso",),
        date_labels=("Datum:", ""),
        total_labels=("TOTAL", "TOTALT", "ATT BETALA"),
        subtotal_label="NETTO",
        tax_label="MOMS 25%",
        tax_rate=25,
        receipt_labels=("Kvitto nr", "Receipt No:"),
        tax_id_label="VAT No:",
        tax_id_pattern="SE############",
        receipt_number_patterns=("#####",),
        merchants=("Kaffebaren Ekdal", "Blomsterhandel Lund", "Hemköp Vasagatan"),
        addresses=("Drottninggatan 5, Stockholm", "Storgatan 18, Uppsala"),
        phones=("Tel 08-123 456 78",),
        items=("Kaffe", "Kanelbulle", "Smörgås", "Mjölk", "Knäckebröd", "Ost", "Juice"),
    ),
    Profile(
        currency="INR",
        marks=(("₹", "prefix"), ("INR", "prefix"), ("Rs.", "prefix")),
        amount_formats=("1,234.56",),
        date_formats=("dmy_slash", "d_mon_y"),
        date_labels=("Date:", "Bill Date:"),
        total_labels=("GRAND TOTAL", "TOTAL AMOUNT", "TOTAL"),
        subtotal_label="SUB TOTAL",
        tax_label="GST 5%",
        tax_rate=5,
        receipt_labels=("Bill No:", "Invoice No:"),
        tax_id_label="GSTIN:",
        tax_id_pattern="##@@@@@####@1Z#",
        receipt_number_patterns=("#####", "@####"),
        merchants=("Sharma Sweets", "Green Leaf Restaurant", "Patel Electronics"),
        addresses=("14 MG Road, Bengaluru", "22 Park Street, Kolkata"),
        phones=("Ph: 080 2558 1234",),
        items=("Masala dosa", "Paneer tikka", "Butter naan", "Mango lassi", "Gulab jamun", "Chai"),
    ),
    Profile(
        currency="JPY",
        marks=(("¥", "prefix"), ("JPY", "suffix")),
        amount_formats=("1,234.56",),
        date_formats=("ymd_slash", "iso"),
        date_labels=("Date:", ""),
        total_labels=("TOTAL", "AMOUNT DUE"),
        subtotal_label="SUBTOTAL",
        tax_label="TAX 10%",
        tax_rate=10,
        receipt_labels=("Receipt No:", "Receipt #"),
        tax_id_label="Tax ID:",
        tax_id_pattern="T#############",
        receipt_number_patterns=("######",),
        merchants=("Sakura Books", "Tanaka Ramen", "Kyoto Tea House"),
        addresses=("1-2-3 Ginza, Chuo-ku, Tokyo", "4-5 Namba, Osaka"),
        phones=("Tel 03-1234-5678",),
        items=("Green tea", "Ramen", "Gyoza", "Onigiri", "Paperback novel", "Matcha latte"),
    ),
    Profile(
        currency="CAD",
        marks=(("CAD", "prefix"), ("CAD $", "prefix")),
        amount_formats=("1,234.56",),
        date_formats=("iso", "d_mon_y"),
        date_labels=("Date:", ""),
        total_labels=("TOTAL", "TOTAL DUE"),
        subtotal_label="SUBTOTAL",
        tax_label="HST 13%",
        tax_rate=13,
        receipt_labels=("Receipt #", "Trans #"),
        tax_id_label="Tax ID:",
        tax_id_pattern="#########RT####",
        receipt_number_patterns=("#####",),
        merchants=("Maple Leaf Diner", "Northern Outfitters", "Lakeside Books"),
        addresses=("250 King Street W, Toronto", "19 Rue Sainte-Catherine, Montreal"),
        phones=("Tel: 416-555-0123",),
        items=ENGLISH_ITEMS,
    ),
    Profile(
        currency="DKK",
        marks=(("DKK", "suffix"), ("DKK", "prefix")),
        amount_formats=("1.234,56",),
        date_formats=("dmy_dot", "iso"),
        date_labels=("Dato:", ""),
        total_labels=("TOTAL", "TOTAL DKK"),
        subtotal_label="NETTO",
        tax_label="MOMS 25%",
        tax_rate=25,
        receipt_labels=("Bon Nr", "Receipt No:"),
        tax_id_label="VAT No:",
        tax_id_pattern="DK########",
        receipt_number_patterns=("#####",),
        merchants=("Nørrebro Bageri", "Havnens Fiskehus"),
        addresses=("Nørrebrogade 40, København",),
        phones=("Tlf. 33 12 34 56",),
        items=("Rugbrød", "Wienerbrød", "Kaffe", "Smørrebrød", "Æblejuice", "Leverpostej", "Ost"),
    ),
)


def random_receipt_spec(
    seed: int, *, currency: str | None = None, awkward: bool = False
) -> ReceiptSpec:
    """A reproducible random receipt: profile, merchant, items, date, layout and font.

    `currency` restricts the choice to the country profiles that use it; `awkward` adds glued
    tokens, a rounding step with several totals and narrow paper (see the module docstring).
    """
    rng = random.Random(seed)
    profiles = [profile for profile in PROFILES if currency in (None, profile.currency)]
    if not profiles:
        raise ValueError(f"no receipt profile uses {currency}")
    profile = rng.choice(profiles)
    decimals = 0 if profile.currency in ZERO_DECIMAL_CURRENCIES else 2
    items = random_items(rng, profile, decimals)
    total = round(sum(amount for _, amount in items), decimals)
    mark, position = rng.choice(profile.marks)
    merchant = rng.choice(profile.merchants)
    fonts = [path for path in available_fonts() if has_glyphs(load_font(path, 22), mark)]
    spec = ReceiptSpec(
        merchant=merchant.upper() if rng.random() < 0.3 else merchant,
        items=items,
        total=total,
        currency=profile.currency,
        date=dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(3 * 365)),
        date_format=rng.choice(profile.date_formats),
        amount_format=rng.choice(profile.amount_formats),
        receipt_number=fill_pattern(rng, rng.choice(profile.receipt_number_patterns)),
        tax_id=fill_pattern(rng, profile.tax_id_pattern),
        address=rng.choice(profile.addresses),
        phone=rng.choice(profile.phones),
        currency_mark=mark,
        currency_position=position,
        date_label=rng.choice(profile.date_labels),
        time_text=f"{rng.randint(7, 21):02d}:{rng.randint(0, 59):02d}",
        total_label=rng.choice(profile.total_labels),
        subtotal_label=profile.subtotal_label,
        tax_label=profile.tax_label,
        tax_rate=profile.tax_rate,
        receipt_label=rng.choice(profile.receipt_labels),
        tax_id_label=profile.tax_id_label,
        payment=rng.choice(("card", "cash", "none")),
        layout=rng.choice(LAYOUTS),
        font_path=rng.choice(fonts),
        extra_lines=rng.sample(["Cashier: Anna", "Thank you!", "Please come again"], k=2),
    )
    if not awkward:
        return spec
    rounded = round(round(total * 20) / 20, decimals) if decimals else total
    rounds = rng.random() < 0.5 and rounded != total
    return replace(
        spec,
        glued=rng.random() < 0.5,
        rounding=round(rounded - total, 2) if rounds else 0.0,
        total=rounded if rounds else total,
        paper_width=rng.choice((600, 440)),
    )


def random_items(rng: random.Random, profile: Profile, decimals: int) -> list[tuple[str, float]]:
    """2..6 distinct items with prices in the currency's usual range, sometimes one big one."""
    count = rng.randint(2, 6)
    scale = 100 if decimals == 0 else 1
    items = []
    for description in rng.sample(profile.items, k=count):
        cents = rng.randint(50, 4000) * scale
        items.append((description, round(cents / 100, decimals)))
    if rng.random() < 0.3:
        description, _ = items[0]
        items[0] = (description, round(rng.randint(100_000, 250_000) * scale / 100, decimals))
    return items


def fill_pattern(rng: random.Random, pattern: str) -> str:
    """Replace # with a digit and @ with an unambiguous capital letter; keep other characters."""
    chars = []
    for char in pattern:
        if char == "#":
            chars.append(rng.choice("0123456789"))
        elif char == "@":
            chars.append(rng.choice(SAFE_LETTERS))
        else:
            chars.append(char)
    return "".join(chars)


def format_amount(value: float, amount_format: str, decimals: int = 2) -> str:
    """Print an amount in one of the AMOUNT_FORMATS conventions."""
    plain = f"{value:,.{decimals}f}"
    if amount_format == "1,234.56":
        return plain
    if amount_format == "1234.56":
        return plain.replace(",", "")
    if amount_format == "1.234,56":
        return plain.replace(",", "_").replace(".", ",").replace("_", ".")
    if amount_format == "1 234,56":
        return plain.replace(",", " ").replace(".", ",")
    if amount_format == "123,45":
        return plain.replace(",", "").replace(".", ",")
    raise ValueError(f"unknown amount format {amount_format!r}")


def money(spec: ReceiptSpec, value: float) -> str:
    """An amount with the receipt's currency mark."""
    amount = format_amount(value, spec.amount_format, spec.decimals)
    if spec.currency_position == "prefix":
        separator = "" if len(spec.currency_mark) == 1 else " "
        return f"{spec.currency_mark}{separator}{amount}"
    return f"{amount} {spec.currency_mark}"


@dataclass(frozen=True)
class Row:
    """One printed row: left text, right text (amounts), alignment and style."""

    left: str
    right: str = ""
    align: str = "left"
    style: str = "regular"


def receipt_rows(spec: ReceiptSpec) -> list[Row]:
    """The rows of the receipt, top to bottom, following its layout."""
    header_align = "left" if spec.layout == "left" else "center"
    before_rounding = round(spec.total - spec.rounding, spec.decimals)
    tax = round(before_rounding * spec.tax_rate / (100 + spec.tax_rate), spec.decimals)
    rows = [
        Row(spec.merchant, align=header_align, style="title"),
        Row(spec.address, align=header_align),
        Row(spec.phone, align=header_align),
        Row(f"{spec.tax_id_label} {spec.tax_id}", align=header_align),
        Row(""),
        date_row(spec),
        Row(f"{spec.receipt_label} {spec.receipt_number}"),
        Row("-" * 40, style="rule"),
    ]
    for description, amount in spec.items:
        price = format_amount(amount, spec.amount_format, spec.decimals)
        if spec.layout == "quantities":
            rows.append(Row(description))
            rows.append(Row(f"   1 x {price}", price))
        else:
            rows.append(Row(description, price))
    rows += [
        Row("-" * 40, style="rule"),
        Row(
            spec.subtotal_label,
            format_amount(before_rounding - tax, spec.amount_format, spec.decimals),
        ),
        Row(spec.tax_label, format_amount(tax, spec.amount_format, spec.decimals)),
    ]
    if spec.rounding:
        rows += [
            Row(f"{spec.total_label} incl. tax", money(spec, before_rounding)),
            Row("Rounding", format_amount(spec.rounding, spec.amount_format, spec.decimals)),
        ]
    if spec.glued:
        rows.append(Row(f"{spec.total_label}:{money(spec, spec.total)}", style="bold"))
    else:
        rows.append(Row(spec.total_label, money(spec, spec.total), style="bold"))
    rows.append(Row(""))
    if spec.payment == "card":
        rows.append(Row("CARD", format_amount(spec.total, spec.amount_format, spec.decimals)))
    elif spec.payment == "cash":
        step = 1000 if spec.decimals == 0 else 10
        given = float((int(spec.total // step) + 1) * step)
        change = round(given - spec.total, spec.decimals)
        rows.append(Row("CASH", format_amount(given, spec.amount_format, spec.decimals)))
        rows.append(Row("CHANGE", format_amount(change, spec.amount_format, spec.decimals)))
    rows += [Row(line, align="center") for line in spec.extra_lines]
    return rows


def date_row(spec: ReceiptSpec) -> Row:
    """The date row: label, date and time, the time glued to the date on glued receipts."""
    if spec.glued:
        return Row(f"{spec.date_label} {spec.date_text}{spec.time_text}".strip())
    return Row(f"{spec.date_label} {spec.date_text}".strip(), spec.time_text)


def render_receipt(
    spec: ReceiptSpec,
    *,
    font_path: str | None = None,
    rotate_degrees: float = 0.0,
    jpeg_quality: int = 85,
    width: int | None = None,
) -> bytes:
    """A JPEG photo of the receipt: `width` px (default: the spec's paper width) of white paper
    on a grey table, maybe rotated."""
    paper = draw_paper(spec, font_path=font_path, width=width)
    return photograph(paper, rotate_degrees=rotate_degrees, jpeg_quality=jpeg_quality)


def draw_paper(
    spec: ReceiptSpec, *, font_path: str | None = None, width: int | None = None
) -> Image.Image:
    """The receipt's paper, printed: `width` px (default: the spec's paper width) wide."""
    width = width or spec.paper_width
    regular_path = font_path or spec.font_path or default_font_path()
    base_size = max(16, width // 27)
    fonts = {
        "regular": load_font(regular_path, base_size),
        "rule": load_font(regular_path, base_size),
        "bold": load_font(bold_font_path(regular_path), base_size),
        "title": load_font(bold_font_path(regular_path), int(base_size * 1.5)),
    }
    rows = receipt_rows(spec)
    margin = base_size
    heights = [int(fonts[row.style].size * 1.55) for row in rows]
    paper = Image.new("RGB", (width, sum(heights) + 2 * margin), PAPER_WHITE)
    draw = ImageDraw.Draw(paper)
    y = margin
    for row, height in zip(rows, heights, strict=True):
        font = fonts[row.style]
        left_text = row.left
        if row.style == "rule":
            left_text = "-" * int((width - 2 * margin) / font.getlength("-"))
        text_width = font.getlength(left_text)
        x = (width - text_width) / 2 if row.align == "center" else margin
        draw.text((x, y), left_text, font=font, fill=INK)
        if row.right:
            draw.text(
                (width - margin - font.getlength(row.right), y), row.right, font=font, fill=INK
            )
        y += height
    return paper


def photograph(paper: Image.Image, *, rotate_degrees: float, jpeg_quality: int) -> bytes:
    """Lay the paper on a light grey table, rotate the whole picture and JPEG-compress it."""
    table_grey = (205, 205, 200)
    border = 40
    photo = Image.new("RGB", (paper.width + 2 * border, paper.height + 2 * border), table_grey)
    photo.paste(paper, (border, border))
    if rotate_degrees:
        photo = photo.rotate(
            rotate_degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=table_grey
        )
    return encode_image(photo, "JPEG", jpeg_quality)


def photograph_on_table(
    paper: Image.Image, *, seed: int, jpeg_quality: int = 85
) -> tuple[bytes, list[tuple[float, float]]]:
    """A phone photo of ``paper`` lying on a wooden table: the paper turned (5 to 20 degrees
    either way) and seen at an angle (each corner moved by up to 6% of the paper's size), in a
    scene about 3 times its width and 2 times its height. Returns the JPEG and the paper's
    corners in the photo (top left, top right, bottom right, bottom left)."""
    rng = random.Random(seed)
    width, height = paper.size
    scene_w = round(width * rng.uniform(3.6, 4.2))
    scene_h = round(height * rng.uniform(2.3, 2.7))
    table = wood_texture(scene_w, scene_h, rng)
    angle = math.radians(rng.choice((-1, 1)) * rng.uniform(5, 20))
    centre = (scene_w / 2 + rng.uniform(-0.1, 0.1) * scene_w, scene_h / 2)
    corners = []
    for x, y in ((0, 0), (width, 0), (width, height), (0, height)):
        x += rng.uniform(-0.06, 0.06) * width
        y += rng.uniform(-0.06, 0.06) * height
        dx, dy = x - width / 2, y - height / 2
        corners.append(
            (
                centre[0] + dx * math.cos(angle) - dy * math.sin(angle),
                centre[1] + dx * math.sin(angle) + dy * math.cos(angle),
            )
        )
    source = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    homography = cv2.getPerspectiveTransform(source, np.float32(corners))
    size = (scene_w, scene_h)
    warped = cv2.warpPerspective(np.asarray(paper), homography, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((height, width), 255, np.uint8), homography, size)
    photo = np.where(mask[..., None] > 127, warped, np.asarray(table))
    light = np.linspace(1.0, rng.uniform(0.8, 0.92), scene_w)[None, :, None]  # uneven light
    photo = (photo * light).clip(0, 255).astype(np.uint8)
    return encode_image(Image.fromarray(photo), "JPEG", jpeg_quality), corners


def wood_texture(width: int, height: int, rng: random.Random) -> Image.Image:
    """A brown table top with grain: stripes of varying shade along x, and noise."""
    base = np.array([rng.uniform(95, 140), rng.uniform(60, 90), rng.uniform(35, 55)])
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    grain = np.sin(ys / rng.uniform(9, 15) + 3 * np.sin(xs / rng.uniform(120, 200)))
    shade = (
        1
        + 0.12 * grain
        + np.random.default_rng(rng.randrange(2**32)).normal(0, 0.04, (height, width))
    )
    pixels = base[None, None, :] * shade[..., None]
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")
