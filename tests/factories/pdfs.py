"""PDF documents written byte by byte (text layers, encryption, bombs) or by Pillow (scans)."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from io import BytesIO

from PIL import Image

from tests.factories.pages import render_page

A4 = (595, 842)
PASSWORD_PADDING = bytes.fromhex("28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a")


def write_pdf(objects: Sequence[bytes], *, trailer_extra: bytes = b"") -> bytes:
    """A PDF whose objects 1..n are ``objects`` (object 1 the catalog), with a correct xref."""
    out = BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, trailer_extra, xref)
    )
    return out.getvalue()


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def text_content(lines: Sequence[str], *, font_size: int = 14, top: float = 770) -> bytes:
    """A content stream writing ``lines`` in Helvetica, top to bottom from ``top``."""
    parts = [b"BT /F1 %d Tf %d TL 72 %d Td" % (font_size, round(font_size * 1.6), round(top))]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        parts.append(b"(" + escaped.encode("latin-1") + b") Tj T*")
    parts.append(b"ET")
    return b"\n".join(parts)


def text_pdf(pages: Sequence[Sequence[str]], *, size: tuple[float, float] = A4) -> bytes:
    """A PDF with a text layer: one page per entry, its lines in Helvetica."""
    count = len(pages)
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for index, lines in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
            % (size[0], size[1], 5 + 2 * index)
        )
        objects.append(stream(text_content(lines)))
    return write_pdf(objects)


def scanned_pdf(pages: Sequence[Sequence[str]], *, dpi: int = 150) -> bytes:
    """A PDF of page images only (no text layer), as a scanner writes: Pillow's PDF writer."""
    width, height = round(8.27 * dpi), round(11.69 * dpi)
    images = [
        Image.open(BytesIO(render_page(lines, width=width, height=height))).convert("RGB")
        for lines in pages
    ]
    out = BytesIO()
    images[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return out.getvalue()


def many_pages_pdf(count: int) -> bytes:
    """A small file declaring ``count`` blank pages (all share one page object's content)."""
    kids = b" ".join(b"3 0 R" for _ in range(count))
    return write_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        ]
    )


def slow_page_pdf(lines: Sequence[str], strokes: int = 100_000) -> bytes:
    """Two A4 pages: ``lines`` in a text layer, then a page of ``strokes`` crossing hairlines
    (a few hundred kilobytes of Flate data that take PDFium seconds per 10 000 to render)."""
    paths = b"".join(
        b"%d %d m %d %d l S\n" % (i % 595, i * 7 % 842, i * 13 % 595, i * 3 % 842)
        for i in range(strokes)
    )
    return write_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R 6 0 R] /Count 2 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
            stream(text_content(lines)),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 7 0 R >>",
            stream(zlib.compress(b"0.2 w\n" + paths, 9), b"/Filter /FlateDecode "),
        ]
    )


def huge_page_pdf(width: float = 200_000, height: float = 200_000) -> bytes:
    """One page whose media box is far larger than any paper (a render-size bomb)."""
    return write_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] >>" % (width, height),
        ]
    )


def image_bomb_pdf(side: int = 60_000) -> bytes:
    """An A4 page drawing one image that declares ``side`` x ``side`` grey pixels, stored as a few
    kilobytes of Flate data (a decompression bomb for whoever decodes it)."""
    data = zlib.compress(bytes(1_000_000), 9)
    content = b"q 595 0 0 842 0 0 cm /Im1 Do Q"
    return write_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
            stream(content),
            stream(
                data,
                b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                b"/BitsPerComponent 8 /Filter /FlateDecode " % (side, side),
            ),
        ]
    )


def encrypted_pdf(user_password: bytes = b"secret", owner_password: bytes = b"owner") -> bytes:
    """A one-page PDF encrypted with the standard security handler (RC4, 128-bit, revision 3)
    and a user password: it cannot be opened without that password."""
    file_id = hashlib.md5(b"steve-lite test file").digest()
    permissions = -4
    owner_key = hashlib.md5(_pad(owner_password)).digest()
    for _ in range(50):
        owner_key = hashlib.md5(owner_key).digest()
    owner_value = _rc4(owner_key, _pad(user_password))
    for step in range(1, 20):
        owner_value = _rc4(bytes(b ^ step for b in owner_key), owner_value)
    key = hashlib.md5(
        _pad(user_password) + owner_value + permissions.to_bytes(4, "little", signed=True) + file_id
    ).digest()
    for _ in range(50):
        key = hashlib.md5(key).digest()
    user_value = _rc4(key, hashlib.md5(PASSWORD_PADDING + file_id).digest())
    for step in range(1, 20):
        user_value = _rc4(bytes(b ^ step for b in key), user_value)
    user_value += bytes(16)
    content_key = hashlib.md5(key + (5).to_bytes(3, "little") + bytes(2)).digest()
    content = _rc4(content_key, text_content(["Confidential"]))
    return write_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            stream(content),
            b"<< /Filter /Standard /V 2 /R 3 /Length 128 /P %d /O <%s> /U <%s> >>"
            % (permissions, owner_value.hex().encode(), user_value.hex().encode()),
        ],
        trailer_extra=b"/Encrypt 6 0 R /ID [<%s> <%s>] "
        % (file_id.hex().encode(), file_id.hex().encode()),
    )


def _pad(password: bytes) -> bytes:
    return (password + PASSWORD_PADDING)[:32]


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)
