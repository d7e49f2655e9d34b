"""Just enough of a PDF reader to check what reportlab wrote: the page count and the text shown, decoded
through each font's ToUnicode map (a subset font's codes mean nothing without it)."""

import base64
import re
import zlib

OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)\s*endobj", re.S)
STREAM = re.compile(rb"^(.*?)stream\r?\n", re.S)


def _objects(data: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    found = {}
    for number, body in OBJECT.findall(data):
        match = STREAM.match(body)
        if match is None:
            found[int(number)] = (body, None)
            continue
        head = match.group(1)
        length = int(re.search(rb"/Length\s+(\d+)", head).group(1))  # reportlab writes direct lengths
        raw = body[match.end() : match.end() + length]
        if b"/ASCII85Decode" in head:
            raw = base64.a85decode(raw.strip().removesuffix(b"~>"), adobe=False)
        if b"/FlateDecode" in head:
            raw = zlib.decompress(raw)
        found[int(number)] = (head, raw)
    return found


def _to_unicode(cmap: bytes) -> dict[int, str]:
    table = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for code, text in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            table[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high, start in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            base = ord(bytes.fromhex(start.decode()).decode("utf-16-be"))
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                table[code] = chr(base + offset)
    return table


def _literal(raw: bytes) -> bytes:
    """A PDF literal string's bytes (the part between the outer parentheses)."""
    out, i = bytearray(), 0
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
    while i < len(raw):
        char = raw[i : i + 1]
        if char == b"\\":
            nxt = raw[i + 1 : i + 2]
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(), 8) & 0xFF)
                i += 1 + len(octal.group())
                continue
            out += escapes.get(nxt, nxt)
            i += 2
            continue
        out += char
        i += 1
    return bytes(out)


STRING = rb"\((?:\\.|[^\\)])*\)"


def pdf_text(data: bytes) -> tuple[int, str]:
    """(pages, the text shown on them in order)."""
    objects = _objects(data)
    fonts: dict[bytes, dict[int, str]] = {}
    pages = 0
    for head, _stream in objects.values():
        if re.search(rb"/Type\s*/Page\b", head):
            pages += 1
        for name, number in re.findall(rb"/(F[\w+.]+)\s+(\d+) 0 R", head):
            font_head = objects.get(int(number), (b"", None))[0]
            cmap_ref = re.search(rb"/ToUnicode\s+(\d+) 0 R", font_head)
            if cmap_ref:
                fonts[name] = _to_unicode(objects[int(cmap_ref.group(1))][1] or b"")
    text = []
    for _head, stream in objects.values():
        if stream is None or b"BT" not in stream:
            continue
        current: dict[int, str] = {}
        for token in re.finditer(rb"/(F[\w+.]+)\s+[\d.]+\s+Tf|(" + STRING + rb")", stream):
            if token.group(1):
                current = fonts.get(token.group(1), {})
            else:
                raw = _literal(token.group(2)[1:-1])
                text.append("".join(current.get(byte, chr(byte)) for byte in raw))
    return pages, "".join(text)
