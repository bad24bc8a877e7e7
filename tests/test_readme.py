"""The README's settings and error tables match app/config.py and app/errors.py, and it opens with the two
commands a new user needs."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import SETTINGS
from app.errors import ERROR_CODES

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _table(marker: str) -> list[list[str]]:
    block = README.split(f"<!-- {marker}:begin -->")[1].split(f"<!-- {marker}:end -->")[0]
    rows = [line for line in block.strip().splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def _default(setting) -> str:
    if setting.default is None:
        return "(unset)"
    if isinstance(setting.default, bool):
        return f"`{str(setting.default).lower()}`"
    if setting.default == "":
        return "(empty)"
    return f"`{setting.default}`"


def test_settings_table_matches_config():
    rows = {row[0].strip("`"): row for row in _table("settings")}
    expected = {s.env for s in SETTINGS} | {"KILLTOKEN_UPSTREAM_URL_<PROVIDER>"}
    assert set(rows) == expected
    for setting in SETTINGS:
        assert rows[setting.env][1] == _default(setting), setting.env


def test_error_table_matches_error_codes():
    rows = {row[0].strip("`"): int(row[1]) for row in _table("errors")}
    assert rows == {code: status for code, (status, _) in ERROR_CODES.items()}


def test_readme_opens_with_run_and_test():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    assert first_block.splitlines()[0].startswith("make run")
    assert first_block.splitlines()[1].startswith("make test")
