"""The import contracts in pyproject.toml catch what they are there for.

Each test runs lint-imports with the project's own configuration over a copy of the source tree
into which one forbidden import is written, so a contract that is loosened by mistake (a package
left off a list, a layer left out) fails here, not in a review months later.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

STANDARD_LIBRARY_ONLY = "Domain, ports and use cases import only the standard library"
NO_ADAPTERS_IN_ROUTES = "HTTP routes and web pages reach adapters only through the composition root"
ADAPTERS_APART = "Adapters know one another only through ports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, ahead of the editable install of the real tree.
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "src" / "mimic",
        tmp_path / "src" / "mimic",
        ignore=shutil.ignore_patterns("__pycache__", "static", "templates"),
    )
    shutil.copytree(
        ROOT / "tools", tmp_path / "tools", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, statement: str) -> None:
    path = tree / "src" / "mimic" / module
    assert path.is_file(), path
    path.write_text(path.read_text() + f"\n{statement}\n")


def broken_contracts(output: str) -> str:
    assert "Broken contracts" in output, output
    return output.split("Broken contracts", 1)[1]


def test_the_tree_as_it_stands_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "imported"),
    [
        ("application/register_user.py", "import sqlalchemy", "sqlalchemy"),
        ("application/execute_signal.py", "import litestar", "litestar"),
        ("ports/exchange.py", "import ccxt", "ccxt"),
        ("domain/orders.py", "from msgspec import Struct", "msgspec"),
    ],
)
def test_an_inner_layer_importing_a_third_party_package_fails(
    tree: Path, module: str, statement: str, imported: str
) -> None:
    add_import(tree, module, statement)

    result = lint_imports(tree)

    assert result.returncode != 0
    broken = broken_contracts(result.stdout)
    assert STANDARD_LIBRARY_ONLY in broken
    importer = "mimic." + module.removesuffix(".py").replace("/", ".")
    assert f"{importer} imports {imported}" in " ".join(broken.split())


@pytest.mark.parametrize(
    ("module", "statement"),
    [
        ("entrypoints/http/follows/controllers.py", "import mimic.adapters.sqlalchemy.engine"),
        ("entrypoints/web/pages.py", "from sqlalchemy import text"),
    ],
)
def test_a_route_or_page_importing_an_adapter_or_its_sdk_fails(
    tree: Path, module: str, statement: str
) -> None:
    add_import(tree, module, statement)

    result = lint_imports(tree)

    assert result.returncode != 0
    assert NO_ADAPTERS_IN_ROUTES in broken_contracts(result.stdout)


def test_an_adapter_importing_another_adapter_fails(tree: Path) -> None:
    add_import(tree, "adapters/telegram/bot_api.py", "import mimic.adapters.sqlalchemy.engine")

    result = lint_imports(tree)

    assert result.returncode != 0
    assert ADAPTERS_APART in broken_contracts(result.stdout)
