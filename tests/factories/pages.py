"""Document pages with known text, drawn with Pillow, and the TrueType fonts to draw them with.

Fonts come from the Debian packages fonts-dejavu-core (required) and fonts-liberation (used when
installed).
"""

import io
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
LIBERATION_DIR = Path("/usr/share/fonts/truetype/liberation")
REGULAR_FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerifCondensed.ttf",
    "LiberationSans-Regular.ttf",
    "LiberationSansNarrow-Regular.ttf",
    "LiberationSerif-Regular.ttf",
    "LiberationMono-Regular.ttf",
)
PAPER_WHITE = (255, 255, 255)
INK = (20, 20, 20)


@cache
def available_fonts() -> tuple[str, ...]:
    """Paths of the regular TrueType fonts installed here, DejaVu Sans first."""
    if not (DEJAVU_DIR / "DejaVuSans.ttf").is_file():
        raise RuntimeError(
            f"DejaVu fonts not found in {DEJAVU_DIR}: install the Debian package fonts-dejavu-core"
        )
    candidates = [DEJAVU_DIR / name for name in REGULAR_FONT_NAMES if name.startswith("DejaVu")]
    candidates += [LIBERATION_DIR / name for name in REGULAR_FONT_NAMES if name.startswith("Lib")]
    return tuple(str(path) for path in candidates if path.is_file())


def default_font_path() -> str:
    """DejaVu Sans, the font every machine running the tests has."""
    return available_fonts()[0]


def bold_font_path(font_path: str) -> str:
    """The bold face of a regular font file, or the font itself when there is none."""
    path = Path(font_path)
    stem = path.stem.removesuffix("-Regular")
    bold = path.with_name(f"{stem}-Bold{path.suffix}")
    return str(bold) if bold.is_file() else font_path


@cache
def load_font(font_path: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached FreeType font at a pixel size."""
    return ImageFont.truetype(font_path, size)


def has_glyphs(font: ImageFont.FreeTypeFont, text: str) -> bool:
    """Whether the font draws every character of text (missing ones render as the .notdef box)."""
    missing = render_glyph(font, "\uffff")
    return all(render_glyph(font, char) != missing for char in set(text) if not char.isspace())


@cache
def render_glyph(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    """The bitmap of one character, for comparisons."""
    size = int(font.size * 2)
    image = Image.new("L", (size, size), 0)
    ImageDraw.Draw(image).text((2, 2), char, font=font, fill=255)
    return image.tobytes()


def encode_image(image: Image.Image, fmt: str, jpeg_quality: int = 90) -> bytes:
    """Encode an image as PNG, JPEG or WEBP bytes."""
    buffer = io.BytesIO()
    if fmt.upper() in ("JPEG", "JPG"):
        image.convert("RGB").save(buffer, format="JPEG", quality=jpeg_quality)
    else:
        image.save(buffer, format=fmt.upper())
    return buffer.getvalue()


def render_placed_text(
    placements: Sequence[tuple[str, tuple[int, int]]],
    *,
    font_path: str | None = None,
    font_size: int = 32,
    width: int = 1240,
    height: int = 1754,
    rotate_degrees: float = 0.0,
    fmt: str = "PNG",
) -> bytes:
    """A white page with each text drawn at its (x, y) top-left position, in the given order."""
    font = load_font(font_path or default_font_path(), font_size)
    page = Image.new("RGB", (width, height), PAPER_WHITE)
    draw = ImageDraw.Draw(page)
    for text, position in placements:
        draw.text(position, text, font=font, fill=INK)
    if rotate_degrees:
        page = page.rotate(rotate_degrees, resample=Image.Resampling.BICUBIC, fillcolor=PAPER_WHITE)
    return encode_image(page, fmt)


def render_page(
    lines: Sequence[str],
    *,
    font_path: str | None = None,
    width: int = 1240,
    height: int = 1754,
    rotate_degrees: float = 0.0,
    fmt: str = "PNG",
) -> bytes:
    """A document page (A4 at 150 dpi by default) with the lines written top to bottom."""
    font_size = 32
    line_step = int(font_size * 1.8)
    margin = 110
    placements = [(text, (margin, margin + index * line_step)) for index, text in enumerate(lines)]
    return render_placed_text(
        placements,
        font_path=font_path,
        font_size=font_size,
        width=width,
        height=height,
        rotate_degrees=rotate_degrees,
        fmt=fmt,
    )
