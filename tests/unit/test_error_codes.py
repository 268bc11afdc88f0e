"""Every machine code lives in ErrorCode; no refusal spells its code inline."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from hospital.error_codes import ErrorCode

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("hospital", "scheduling", "queueing", "reports", "kiosk", "journey", "consult")
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def test_every_code_is_lower_snake_case_and_named_after_its_value() -> None:
    for member in ErrorCode:
        assert SNAKE.match(member.value), member
        assert member.name == member.value.upper(), member


def test_no_two_members_share_a_value() -> None:
    # A repeated value makes the second name a silent alias of the first.
    assert list(ErrorCode.__members__) == [member.name for member in ErrorCode]


def _trees() -> list[tuple[Path, ast.Module]]:
    trees = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                trees.append((path, ast.parse(path.read_text(encoding="utf-8"), str(path))))
    return trees


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _domain_errors(trees: list[tuple[Path, ast.Module]]) -> set[str]:
    """Names of DomainError and every class deriving from it, however indirectly."""
    bases: dict[str, set[str]] = {}
    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(_name(b) for b in node.bases)
    found = {"DomainError"}
    while True:
        more = {name for name, parents in bases.items() if parents & found} - found
        if not more:
            return found
        found |= more


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def test_no_domain_error_spells_its_code_inline() -> None:
    trees = _trees()
    errors = _domain_errors(trees)
    assert {"NotFound", "Conflict", "BadParameter", "SignInDelayed"} <= errors
    inline = []
    for path, tree in trees:
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in errors:
                inline += [
                    f"{where}:{kw.lineno}"
                    for kw in node.keywords
                    if kw.arg == "code" and _is_text(kw.value)
                ]
            elif isinstance(node, ast.ClassDef) and node.name in errors:
                for stmt in node.body:
                    value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
                    targets = (
                        stmt.targets
                        if isinstance(stmt, ast.Assign)
                        else [stmt.target]
                        if isinstance(stmt, ast.AnnAssign)
                        else []
                    )
                    if (
                        value is not None
                        and _is_text(value)
                        and any(_name(t) == "code" for t in targets)
                    ):
                        inline.append(f"{where}:{stmt.lineno}")
    assert not inline, f"use an ErrorCode member, not a string, as the code at {inline}"
