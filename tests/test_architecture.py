"""Fail when an import breaks the dependency direction of ../shared/ARCHITECTURE.md."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hospital", "scheduling", "queueing", "reports", "kiosk", "journey", "consult")
# A module may import itself and the modules listed here, nothing else of ours.
ALLOWED = {
    "hospital": {"hospital"},
    "scheduling": {"scheduling", "hospital"},
    "queueing": {"queueing", "scheduling", "hospital"},
    "reports": {"reports", "hospital"},
    "kiosk": {"kiosk", "queueing", "scheduling", "hospital"},
    "journey": {"journey", "queueing", "scheduling", "reports", "hospital", "consult"},
    "consult": {"consult", "scheduling", "reports", "hospital"},
}
# The composition root and the command line are the only kernel modules that see every package.
COMPOSITION_ROOT = {"hospital/app.py", "hospital/cli.py", "hospital/demo.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def source_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        files += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return files


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_dependency_direction(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    package = rel.split("/")[0]
    for module in imported_modules(path):
        top = module.split(".")[0]
        if top not in PACKAGES:
            continue
        if rel in COMPOSITION_ROOT:
            continue
        assert top in ALLOWED[package], (
            f"{rel} imports {module}: {package} may import only {sorted(ALLOWED[package])}"
        )
        assert module != "hospital.app", f"{rel} imports the composition root hospital.app"


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from queueing.models import Ticket\nimport scheduling.services.booking\n")
    assert {"queueing.models", "scheduling.services.booking"} <= imported_modules(bad)
    assert "queueing" not in ALLOWED["scheduling"] and "scheduling" not in ALLOWED["hospital"]


def test_no_init_file_holds_logic() -> None:
    for path in ROOT.glob("*/**/__init__.py"):
        if path.parts[len(ROOT.parts)] not in PACKAGES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        body = [
            n
            for n in tree.body
            if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        ]
        assert not body, f"{path.relative_to(ROOT)} holds code; keep __init__.py empty"


def test_every_table_holding_hospital_data_carries_hospital_id() -> None:
    from hospital.app import create_app
    from hospital.db import db

    create_app({"DATABASE_URL": "sqlite://"})  # imports every module's models
    missing = [
        t.name
        for t in db.metadata.sorted_tables
        if t.name != "hospital" and "hospital_id" not in t.c
    ]
    assert not missing, f"add hospital_id (sharding key) to: {missing}"


# Billing is a package of its own inside the kernel (ARCHITECTURE.md). From outside it, only its
# public surface may be imported: services (the operations and queries), schemas, the typed order
# reference, and pricing (pure money arithmetic and formatting, no tables). Never its models,
# views, providers or a private name. The kernel's other modules do not import billing at all.
BILLING = "hospital.billing"
BILLING_PUBLIC = (
    "hospital.billing.services",
    "hospital.billing.schemas",
    "hospital.billing.references",
    "hospital.billing.pricing",
)


def billing_imports(path: Path) -> set[tuple[str, str]]:
    """(billing module, imported name or "") for every import of billing in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update((a.name, "") for a in node.names if _is_billing(a.name))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not _is_billing(node.module):
                continue
            for alias in node.names:
                if node.module == BILLING:  # `from hospital.billing import views`: a module
                    found.add((f"{BILLING}.{alias.name}", ""))
                else:
                    found.add((node.module, alias.name))
    return found


def _is_billing(module: str) -> bool:
    return module == BILLING or module.startswith(BILLING + ".")


def _is_public_billing(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in BILLING_PUBLIC)


def outside_billing() -> list[Path]:
    billing_dir = ROOT / "hospital" / "billing"
    return [
        p
        for p in source_files()
        if billing_dir not in p.parents and str(p.relative_to(ROOT)) not in COMPOSITION_ROOT
    ]


@pytest.mark.parametrize("path", outside_billing(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_billings_public_surface_is_imported_from_outside(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    for module, name in billing_imports(path):
        assert not rel.startswith("hospital/"), (
            f"{rel} imports {module}: the kernel does not depend on billing (only the "
            f"composition root {sorted(COMPOSITION_ROOT)} wires it)"
        )
        assert _is_public_billing(module), (
            f"{rel} imports {module}: outside billing import only {list(BILLING_PUBLIC)}; "
            "ask billing for a public query instead of reading its models"
        )
        assert not name.startswith("_"), f"{rel} imports the private {module}.{name}"


def test_the_billing_rule_catches_models_and_private_names(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from hospital.billing.models import Order\n"
        "from hospital.billing import views\n"
        "from hospital.billing.services.ledger import _order_for\n"
        "from hospital.billing.services import queries\n"
    )
    found = billing_imports(bad)
    assert not _is_public_billing("hospital.billing.models")
    assert not _is_public_billing("hospital.billing.views")
    assert ("hospital.billing.services.ledger", "_order_for") in found
    assert ("hospital.billing.services", "queries") in found
    assert _is_public_billing("hospital.billing.services")


# Across the domain packages the same rule: a neighbour is asked through its public surface.
DOMAIN_PACKAGES = ("scheduling", "queueing", "reports", "kiosk", "journey", "consult")
DOMAIN_PUBLIC = ("services", "schemas", "queries", "events")


def neighbour_imports(path: Path, own: str) -> set[tuple[str, str]]:
    """(module of another domain package, imported name or "") for each import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(
                (a.name, "")
                for a in node.names
                if a.name.split(".")[0] in DOMAIN_PACKAGES and a.name.split(".")[0] != own
            )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top not in DOMAIN_PACKAGES or top == own:
                continue
            for alias in node.names:
                if node.module == top:  # `from queueing import queries`: a module
                    found.add((f"{top}.{alias.name}", ""))
                else:
                    found.add((node.module, alias.name))
    return found


def _is_public_neighbour(module: str) -> bool:
    parts = module.split(".")
    return len(parts) >= 2 and parts[1] in DOMAIN_PUBLIC


@pytest.mark.parametrize(
    "path",
    [p for p in source_files() if p.relative_to(ROOT).parts[0] in DOMAIN_PACKAGES],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_domain_packages_use_only_their_neighbours_public_surface(path: Path) -> None:
    rel = path.relative_to(ROOT)
    for module, name in neighbour_imports(path, rel.parts[0]):
        assert _is_public_neighbour(module), (
            f"{rel} imports {module}: from another package import only its "
            f"{list(DOMAIN_PUBLIC)} (never its models or pages); ask it for a public function"
        )
        assert not name.startswith("_"), f"{rel} imports the private {module}.{name}"


def test_the_neighbour_rule_catches_models_and_private_names(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from queueing.models import Ticket\n"
        "from scheduling.services.places import _take_place\n"
        "from queueing import queries\n"
    )
    found = neighbour_imports(bad, "kiosk")
    assert ("queueing.models", "Ticket") in found and not _is_public_neighbour("queueing.models")
    assert ("scheduling.services.places", "_take_place") in found
    assert ("queueing.queries", "") in found and _is_public_neighbour("queueing.queries")
    assert not neighbour_imports(bad, "queueing") >= {("queueing.models", "Ticket")}


# Actor and `now` are keyword-only everywhere (`def f(x, *, actor, now)`), so no call can pass
# them in the wrong place. Left for now: functions that files another change was rewriting at the
# time call positionally (scheduling/services/booking.py, kiosk/services/check_in.py).
KEYWORD_ONLY = ("now", "actor")


def positional_now_or_actor(path: Path) -> list[str]:
    """Functions in the file whose `now` or `actor` parameter can be passed by position."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            positional = [a.arg for a in node.args.posonlyargs + node.args.args]
            if any(name in positional for name in KEYWORD_ONLY):
                found.append(getattr(node, "name", "<lambda>"))
    return found


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_now_and_actor_are_keyword_only(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    bad = positional_now_or_actor(path)
    assert not bad, f"{rel}: {bad} take now or actor by position; write `def f(x, *, actor, now)`"


def test_the_keyword_only_rule_catches_a_positional_now(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def a(x, now): ...\n"
        "def b(actor, x, *, now): ...\n"
        "def c(x, *, actor, now): ...\n"
        "class K:\n    def d(self, now, /): ...\n"
    )
    assert positional_now_or_actor(bad) == ["a", "b", "d"]
