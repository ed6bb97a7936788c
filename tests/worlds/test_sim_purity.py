"""Architecture rule 1: the simulation core imports nothing from the web stack."""

from __future__ import annotations

import ast
import pathlib
import re

SIM = pathlib.Path(__file__).resolve().parents[2] / "worlds" / "sim"
BANNED = ("django", "channels", "celery", "rest_framework", "asgiref", "redis")


def imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_sim_modules_import_no_web_framework() -> None:
    files = sorted(SIM.glob("*.py"))
    assert len(files) >= 9

    offenders = {
        f"{path.name}: {module}"
        for path in files
        for module in imported_modules(path)
        if module.split(".")[0] in BANNED
    }

    assert offenders == set()


def test_grep_finds_no_web_framework_import_even_dynamic() -> None:
    # The AST walk above misses import_module("django...") and __import__; grep catches them.
    names = "|".join(BANNED)
    pattern = re.compile(
        rf"^\s*(from|import)\s+({names})\b|import_module\(\s*[\"']({names})|__import__\(",
        re.MULTILINE,
    )

    hits = [
        f"{path.name}: {match.group(0).strip()}"
        for path in sorted(SIM.glob("*.py"))
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]

    assert hits == []
