"""Ports declare what the application needs; behaviour lives in adapters.

A method body in a protocol is inherited by every class that names the protocol as its base,
where nobody reading that class sees it: a wrapper gateway once answered the order sender with
the port's default receive window and order lookup instead of the wrapped venue's. Shared
behaviour belongs in an adapter base class (adapters/exchange_base.py), written where it is
inherited.
"""

import ast
from pathlib import Path

import pytest

from tests.paths import ROOT

PORTS = ROOT / "src" / "mimic" / "ports"


def _declares_only(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A docstring and/or `...`, nothing that runs."""
    return all(
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and (isinstance(statement.value.value, str) or statement.value.value is Ellipsis)
        for statement in function.body
    )


def _protocol_members_with_bodies(source: str) -> list[str]:
    found = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        if not any(ast.unparse(base).endswith("Protocol") for base in node.bases):
            continue
        for member in node.body:
            is_function = isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_function and not _declares_only(member):
                found.append(f"{node.name}.{member.name}")
    return found


@pytest.mark.parametrize("module", sorted(PORTS.glob("*.py")), ids=lambda path: path.name)
def test_every_protocol_member_is_a_declaration(module: Path) -> None:
    assert _protocol_members_with_bodies(module.read_text()) == []


def test_a_default_body_in_a_protocol_is_found() -> None:
    source = (
        "from typing import Protocol\n"
        "class Port(Protocol):\n"
        "    def declared(self) -> int:\n"
        '        """What it answers."""\n'
        "        ...\n"
        "    def defaulted(self) -> int:\n"
        "        return 1\n"
    )

    assert _protocol_members_with_bodies(source) == ["Port.defaulted"]
