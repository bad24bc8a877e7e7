"""Edge cases of the code-aware whitespace and JSON transformations."""

from app.optimize.text_transforms import (
    code_lines,
    collapse_blank_lines,
    compact_json,
    minify_json_text,
    optimize_text,
    strip_trailing_whitespace,
)


def test_fences_open_and_close_like_commonmark() -> None:
    lines = ["````md", "```", "still code", "````", "prose", "~~~", "x", "~~~~", "after", "``` `not` a fence"]
    assert code_lines(lines) == [True, True, True, True, False, True, True, True, False, False]


def test_blank_lines_inside_indented_block_are_kept() -> None:
    text = "Intro\n\n    a = 1\n   \n\n\n    b = 2\n\n\n\nOutro"
    assert collapse_blank_lines(text) == ("Intro\n\n    a = 1\n   \n\n\n    b = 2\n\nOutro", 1)
    assert strip_trailing_whitespace(text) == (text, 0)


def test_crlf_line_endings_survive() -> None:
    assert strip_trailing_whitespace("a \r\nb\t\r\n") == ("a\r\nb\r\n", 2)
    assert strip_trailing_whitespace("a  \r\nb\t\r\n") == ("a  \r\nb\r\n", 1)  # a hard break stays


def test_leading_and_trailing_blank_runs() -> None:
    assert collapse_blank_lines("\n\n\nHello\n\n\n") == ("Hello\n", 2)
    assert collapse_blank_lines("Hello\n") == ("Hello\n", 0)
    assert collapse_blank_lines("\n\n") == ("\n\n", 0)


def test_minify_keeps_strings_and_escapes_byte_for_byte() -> None:
    span = '{\n  "a b": "x  \\" y",\n  "n": 1.50e+3,\n  "u": "\\u00e9 "\n}'
    assert minify_json_text(span) == '{"a b":"x  \\" y","n":1.50e+3,"u":"\\u00e9 "}'


def test_compact_json_only_at_column_zero_outside_code() -> None:
    text = 'See:\n [\n  1\n ]\n{\n  "k": [1, 2]\n}\n'
    assert compact_json(text) == ('See:\n [\n  1\n ]\n{"k":[1,2]}\n', 1)
    fenced = '```\n{\n  "k": 1\n}\n```\n'
    assert compact_json(fenced) == (fenced, 0)
    runs_into_fence = '{\n  "k": 1\n```\n}\n```\n'
    assert compact_json(runs_into_fence) == (runs_into_fence, 0)


def test_optimize_text_reports_each_step_in_order() -> None:
    new, steps = optimize_text('{\n  "a": 1\n}   \n\n\n\nEnd.  ')
    assert new == '{"a":1}\n\nEnd.'
    assert [(name, count) for name, count, _, _ in steps] == [
        ("json_compact", 1), ("trailing_whitespace", 2), ("blank_lines", 1)]


def test_blank_lines_inside_a_yaml_block_scalar_are_kept() -> None:
    text = "config:\n  note: |\n    first\n\n\n    second\n  other: 1\n\n\n\nDone"
    assert collapse_blank_lines(text) == ("config:\n  note: |\n    first\n\n\n    second\n  other: 1\n\nDone", 1)
    shallow = "items:\n  - a\n\n\n  - b\n"
    assert collapse_blank_lines(shallow) == (shallow, 0)


def test_markdown_hard_breaks_are_kept():
    text = "Roses are red  \nViolets are blue   \n\nend  "
    assert strip_trailing_whitespace(text) == ("Roses are red  \nViolets are blue\n\nend", 2)
