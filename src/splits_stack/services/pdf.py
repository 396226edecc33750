"""A minimal, valid PDF writer for plain-text resumes (no third-party library).

PDF 1.4 with the built-in Helvetica font: one content stream per page, a cross-reference table with
exact byte offsets, text escaped for PDF strings and encoded as Latin-1 (WinAnsi).
"""

from __future__ import annotations

import textwrap

_PAGE_W, _PAGE_H, _MARGIN, _LEADING, _SIZE = 612, 792, 56, 14, 10
_LINES_PER_PAGE = (_PAGE_H - 2 * _MARGIN) // _LEADING
_WRAP = 95


def _escape(line: str) -> str:
    raw = line.encode("latin-1", "replace").decode("latin-1")
    return raw.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _wrapped(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.splitlines() or [""]:
        indent = len(line) - len(line.lstrip())
        lines.extend(textwrap.wrap(line, _WRAP, subsequent_indent=" " * (indent + 2)) or [""])
    return lines


def text_to_pdf(text: str, title: str = "Resume") -> bytes:
    lines = _wrapped(text)
    pages = [lines[i : i + _LINES_PER_PAGE] for i in range(0, len(lines), _LINES_PER_PAGE)] or [[]]
    objects: list[bytes] = []
    n_pages = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    for i, page in enumerate(pages):
        ops = [f"BT /F1 {_SIZE} Tf {_LEADING} TL {_MARGIN} {_PAGE_H - _MARGIN} Td"]
        for j, line in enumerate(page):
            size = 14 if (i == 0 and j == 0) else _SIZE
            ops.append(f"/F1 {size} Tf ({_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1", "replace")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_PAGE_W} {_PAGE_H}] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info_id = len(objects) + 1
    objects.append(
        f"<< /Title ({_escape(title)}) /Producer (Splits Network) >>".encode("latin-1", "replace")
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)
