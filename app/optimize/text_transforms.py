"""Code-aware text transformations that only ever delete whitespace carrying no meaning.

Each transformation removes whitespace characters and nothing else, never on a protected line:

- fenced code blocks (``` or ~~~, fence lines included; an unclosed fence protects the rest of the text);
- indented lines (any leading space or tab: indented code, nested lists, YAML, block scalars), and blank
  lines lying between two indented lines (they belong to the indented block);
- leading indentation is never touched anywhere, and runs of spaces inside a line are never collapsed
  (tables, alignment, ASCII art).

``compact_json`` minifies a pretty-printed JSON object or array that starts at column 0 of a prose line and
ends a line, by deleting the whitespace outside its strings: the JSON text is not re-serialized, so numbers,
escapes and key order stay byte for byte. Each function returns ``(new_text, count)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TRAILING = re.compile(r"[ \t]+(\r?)$")
_HARD_BREAK = re.compile(r"\S {2,}\r?$")
_DECODER = json.JSONDecoder()

TRAILING_WHITESPACE = "trailing_whitespace"
BLANK_LINES = "blank_lines"
JSON_COMPACT = "json_compact"


def code_lines(lines: list[str]) -> list[bool]:
    """True for every line inside a fenced code block, fence lines included."""
    marks = [False] * len(lines)
    fence: str | None = None
    for index, line in enumerate(lines):
        if fence is None:
            match = _FENCE.match(line)
            if match and not (match.group(1)[0] == "`" and "`" in line[match.end():]):
                fence = match.group(1)
                marks[index] = True
            continue
        marks[index] = True
        stripped = line.strip(" \t\r")
        if (stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}
                and len(line) - len(line.lstrip(" ")) <= 3):
            fence = None
    return marks


def is_indented(line: str) -> bool:
    """Any leading space or tab: indented code, nested lists, YAML, block scalars are all left alone."""
    return line[:1] in (" ", "\t")


def is_blank(line: str) -> bool:
    return line.strip(" \t\r") == ""


def protected_lines(lines: list[str]) -> list[bool]:
    """Code lines, indented lines, and blank runs between two lines that both start with whitespace."""
    marks = code_lines(lines)
    for index, line in enumerate(lines):
        if not marks[index] and not is_blank(line) and is_indented(line):
            marks[index] = True
    index = 0
    while index < len(lines):
        if marks[index] or not is_blank(lines[index]):
            index += 1
            continue
        end = index
        while end < len(lines) and not marks[end] and is_blank(lines[end]):
            end += 1
        before = index > 0 and is_indented(lines[index - 1])
        after = end < len(lines) and is_indented(lines[end])
        if before and after:
            for inner in range(index, end):
                marks[inner] = True
        index = end
    return marks


def _hard_break(lines: list[str], index: int) -> bool:
    """Two or more trailing spaces before another line of text are a Markdown hard line break: meaning."""
    line = lines[index]
    return (bool(_HARD_BREAK.search(line)) and index + 1 < len(lines) and bool(lines[index + 1].strip()))


def strip_trailing_whitespace(text: str) -> tuple[str, int]:
    """Delete spaces and tabs at the end of unprotected lines (whitespace-only lines become empty).

    A Markdown hard break (2+ trailing spaces followed by more text) is kept: it can change the rendering the
    prompt asks for.
    """
    lines = text.split("\n")
    marks = protected_lines(lines)
    count = 0
    for index, line in enumerate(lines):
        if marks[index] or _hard_break(lines, index):
            continue
        new = _TRAILING.sub(r"\1", line)
        if new != line:
            lines[index] = new
            count += 1
    return "\n".join(lines), count


def collapse_blank_lines(text: str) -> tuple[str, int]:
    """Runs of 2+ blank lines become one; blank lines before the first content go; extra ones at the end go."""
    lines = text.split("\n")
    marks = protected_lines(lines)
    keep: list[str] = []
    count = 0
    index = 0
    while index < len(lines):
        if marks[index] or not is_blank(lines[index]):
            keep.append(lines[index])
            index += 1
            continue
        end = index
        while end < len(lines) and not marks[end] and is_blank(lines[end]):
            end += 1
        run = lines[index:end]
        leading, trailing = index == 0, end == len(lines)
        if leading and trailing:
            keep.extend(run)  # a text of nothing but blank lines is left alone
        elif leading:
            count += 1
        elif len(run) > 1:
            keep.append("")  # one blank line in the middle; the final line terminator at the end
            count += 1
        else:
            keep.extend(run)
        index = end
    return "\n".join(keep), count


def minify_json_text(span: str) -> str:
    """Delete whitespace outside JSON strings, copying every other character as is."""
    out: list[str] = []
    in_string = False
    escaped = False
    for char in span:
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif char not in " \t\r\n":
            out.append(char)
    return "".join(out)


def compact_json(text: str) -> tuple[str, int]:
    """Minify pretty-printed JSON objects/arrays that start a prose line at column 0 and end a line."""
    lines = text.split("\n")
    marks = protected_lines(lines)
    code = code_lines(lines)
    offsets = [0] * (len(lines) + 1)
    for index, line in enumerate(lines):
        offsets[index + 1] = offsets[index] + len(line) + 1
    limit = [len(text)] * len(lines)  # where the next fenced code line starts: JSON may not reach into it
    for index in range(len(lines) - 1, -1, -1):
        if index + 1 < len(lines):
            limit[index] = offsets[index + 1] if code[index + 1] else limit[index + 1]
    out: list[str] = []
    count = 0
    index = 0
    while index < len(lines):
        line = lines[index]
        replaced = None
        if not marks[index] and line[:1] in ("{", "["):
            replaced = _json_span(text, offsets[index], limit[index])
        if replaced is None:
            out.append(line)
            index += 1
            continue
        minified, newlines = replaced
        out.append(minified)
        count += 1
        index += newlines + 1
    return "\n".join(out), count


def _json_span(text: str, start: int, limit: int) -> tuple[str, int] | None:
    """(minified line, newlines the span covers) when ``text[start:]`` opens a pretty JSON value."""
    try:
        value, stop = _DECODER.raw_decode(text, start)
    except ValueError:
        return None
    if stop > limit or not isinstance(value, dict | list):
        return None
    line_end = text.find("\n", stop)
    rest = text[stop:] if line_end == -1 else text[stop:line_end]
    if rest.strip(" \t\r"):
        return None
    span = text[start:stop]
    minified = minify_json_text(span)
    if minified == span:
        return None
    return minified + rest, span.count("\n")


TRANSFORMS: tuple[tuple[str, Callable[[str], tuple[str, int]]], ...] = (
    (JSON_COMPACT, compact_json),
    (TRAILING_WHITESPACE, strip_trailing_whitespace),
    (BLANK_LINES, collapse_blank_lines),
)


def optimize_text(text: str) -> tuple[str, list[tuple[str, int, str, str]]]:
    """Run every transformation in order; returns the text and (name, count, before, after) per step."""
    steps: list[tuple[str, int, str, str]] = []
    current = text
    for name, transform in TRANSFORMS:
        new, count = transform(current)
        if count:
            steps.append((name, count, current, new))
            current = new
    return current, steps
