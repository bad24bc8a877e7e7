"""Logging: one line per record, and a redaction filter as a last line of defence against leaked secrets.

Code never logs secrets on purpose; the filter also masks anything shaped like a KillToken key, a provider key,
a bearer token or a PEM block, should one slip into an exception message.
"""

from __future__ import annotations

import logging
import re
import sys

_PATTERNS = [
    re.compile(r"kt_[0-9A-Za-z]{8,}"),
    re.compile(r"sk-[0-9A-Za-z_\-]{8,}"),
    re.compile(r"(?i)bearer\s+[0-9A-Za-z._\-]{8,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"AKIA[0-9A-Z]{12,}"),
    re.compile(r"ya29\.[0-9A-Za-z._\-]+"),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure(level: str) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_killtoken", False) for h in root.handlers):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    handler._killtoken = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
