"""House rules that keep the code navigable: small modules, a typed package."""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
MAX_LINES = 500


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(APP.parent)): n
        for p in sorted(APP.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these by concern (limit {MAX_LINES} lines): {long}"


def test_the_package_ships_its_type_information() -> None:
    assert (APP / "py.typed").is_file()
