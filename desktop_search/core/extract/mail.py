"""E-mail: single messages (.eml) and mailboxes (.mbox, message = section), with the stdlib parser.

The text is a short header block (Subject, From, To, Cc, Date), the preferred body of every part
(text/plain over text/html inside multipart/alternative; HTML bodies reduced to visible text), the
bodies of attached messages (message/rfc822) and a list of attachment names. The MIME tree is walked
with an explicit stack, not recursion. A message with no body and no attachments yields empty text.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage, Message
from pathlib import Path

from .builder import TextBuilder
from .types import Extracted, ExtractionFailed, ExtractLimits

_HEADERS = ("Subject", "From", "To", "Cc", "Date")
_MAX_PARTS = 10_000


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # malformed header the policy cannot parse (get_all would parse it again: fuzzing)
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    if value is None:
        return ""
    text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):  # raw 8-bit header bytes (RFC 6532 UTF-8)
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join(text.split())


def _part_text(part: Message) -> str:
    try:
        if isinstance(part, EmailMessage):
            content = part.get_content()
            if isinstance(content, str):
                return content
    except (LookupError, UnicodeError, KeyError, ValueError, AssertionError):
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    from .text import BinaryData, decode_bytes

    charset = part.get_content_charset()
    try:
        return decode_bytes(payload, declared=charset)[0]
    except BinaryData:
        return ""


def _body(part: Message, builder: TextBuilder) -> str:
    ctype = part.get_content_type()
    text = _part_text(part)
    if ctype == "text/html":
        from .html import html_text

        sub = TextBuilder(builder.limit)
        html_text(text, sub)
        return sub.text()
    return text


def _message(msg: Message, builder: TextBuilder, attachments: list[str]) -> bool:
    """Append one message's header block and bodies; returns whether it had any body text."""
    had_body = False
    stack: list[tuple[Message, bool]] = [(msg, True)]
    seen = 0
    headers_for: list[str] = []
    while stack:
        part, top = stack.pop()
        seen += 1
        if seen > _MAX_PARTS:
            break
        ctype = part.get_content_type()
        if top:
            block = [f"{name}: {value}" for name in _HEADERS if (value := _header(part, name))]
            headers_for.append("\n".join(block))
            if block:
                builder.newline()
                builder.add("\n".join(block))
                builder.add("\n\n")
        if part.is_multipart():
            children = part.get_payload()
            if not isinstance(children, list):
                continue
            if ctype == "multipart/alternative" and children:
                preferred = [c for c in children if c.get_content_type() == "text/plain"]
                preferred = preferred or [c for c in children if c.get_content_type() == "text/html"]
                children = preferred[:1] or children[-1:]
            for child in reversed(children):
                stack.append((child, ctype == "message/rfc822"))
            continue
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if filename or (disposition == "attachment" and not ctype.startswith("text/")):
            attachments.append(_clean_name(filename) or ctype)
            continue
        if ctype in ("text/plain", "text/html", "text/enriched", "text/markdown") or (
            ctype.startswith("text/") and disposition != "attachment"
        ):
            body = _body(part, builder).strip()
            if body:
                had_body = True
                builder.newline()
                builder.add(body)
                builder.add("\n")
        if builder.full:
            break
    return had_body


def _clean_name(name: str | None) -> str:
    if not name:
        return ""
    if any("\udc80" <= ch <= "\udcff" for ch in name):
        name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join(name.split())


_BOUNDARY = re.compile(rb'(boundary\s*=\s*)([^"\s;][^\s;]*)', re.IGNORECASE)
_MAX_NESTING = 200


def _parse(data: bytes) -> Message:
    """Parse a message; refuse absurd MIME nesting up front (the stdlib parser recurses per level)."""
    head_count = len(re.findall(rb"(?im)^content-type:\s*multipart/", data[: 64 * 1024 * 1024]))
    if head_count > _MAX_NESTING:
        raise ExtractionFailed(f"MIME structure nested too deeply ({head_count} multipart levels)")
    # Unquoted boundaries containing "=" (Outlook Express) are legal in practice but not per RFC 2045;
    # quote them so the parser finds the parts instead of treating the body as one blob.
    data = _BOUNDARY.sub(lambda m: m.group(1) + b'"' + m.group(2) + b'"', data)
    try:
        return email.message_from_bytes(data, policy=email.policy.default)
    except RecursionError as exc:
        raise ExtractionFailed("MIME structure nested too deeply") from exc


def _one(msg: Message, builder: TextBuilder) -> tuple[bool, list[str]]:
    attachments: list[str] = []
    try:
        had_body = _message(msg, builder, attachments)
    except RecursionError as exc:
        raise ExtractionFailed("MIME structure nested too deeply") from exc
    if attachments:
        builder.newline()
        builder.add("Attachments: " + ", ".join(attachments[:200]))
        builder.add("\n")
    return had_body, attachments


def extract_mail(path: Path, limits: ExtractLimits) -> Extracted:
    with open(path, "rb") as handle:
        data = handle.read()
    msg = _parse(data)
    builder = TextBuilder(limits.max_text_chars)
    had_body, attachments = _one(msg, builder)
    meta = {name.lower(): value[:500] for name in _HEADERS if (value := _header(msg, name))}
    if attachments:
        meta["attachments"] = ", ".join(attachments)[:1000]
    text = builder.text() if (had_body or attachments) else ""
    return Extracted(text=text, title=meta.get("subject"), extractor="email", metadata=meta)


def extract_mbox(path: Path, limits: ExtractLimits) -> Extracted:
    import mailbox

    try:
        box = mailbox.mbox(str(path), create=False)
        keys = list(box.iterkeys())
    except (OSError, mailbox.Error) as exc:
        raise ExtractionFailed("unreadable mailbox") from exc
    builder = TextBuilder(limits.max_text_chars)
    count = 0
    try:
        for key in keys:
            builder.section()
            msg = _parse(box.get_bytes(key))
            _one(msg, builder)
            count += 1
            if builder.full:
                break
    finally:
        box.close()
    text = builder.text() if builder.has_text() else ""
    return Extracted(
        text=text,
        extractor="mbox",
        page_starts=builder.page_starts if text else [],
        metadata={"messages": str(count)},
    )
