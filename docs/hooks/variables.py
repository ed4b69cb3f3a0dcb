"""The operator guide's table of every environment variable, generated from the code.

The names, and the defaults written in the code, are read from `src/mimic` itself (its
syntax tree: nothing is imported or run); `docs/variables.toml` adds what each one means.
The build fails when the code reads a variable the file does not explain, when the file
explains one the code no longer reads, or when the file states a default the code already
writes: the table cannot drift from the code.
"""

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs.exceptions import BuildError

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "mimic"
MEANINGS = ROOT / "docs" / "variables.toml"
PLACEHOLDER = "<!-- mimic:variables -->"
# Variables named by a prefix and a computed part: prefix -> the module that lists them.
FAMILIES = {"MIMIC_RATE_": "mimic.application.throttle.RateLimits"}
_NO_DEFAULT = object()


@dataclass(frozen=True, slots=True)
class Read:
    """One place where the code reads a variable."""

    name: str
    default: object  # the literal the code falls back to, None for unset, _NO_DEFAULT: none


def _is_environ(node: ast.expr) -> bool:
    """`os.environ`."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _environ_key(node: ast.AST) -> ast.expr | None:
    """The key of `os.environ.get(key, ...)`, `os.getenv(key)`, `os.environ[key]`,
    `key in os.environ`."""
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value):
            return node.args[0]
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "getenv"
            and isinstance(func.value, ast.Name)
            and func.value.id == "os"
        ):
            return node.args[0]
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return node.slice
    if (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.In | ast.NotIn)
        and _is_environ(node.comparators[0])
    ):
        return node.left
    return None


def _read_key(node: ast.AST, readers: set[str]) -> ast.expr | None:
    """The variable name `node` reads: from the environment or through a reader function."""
    key = _environ_key(node)
    if key is not None:
        return key
    is_reader_call = (
        isinstance(node, ast.Call)
        and bool(node.args)
        and isinstance(node.func, ast.Name)
        and node.func.id in readers
    )
    return node.args[0] if is_reader_call and isinstance(node, ast.Call) else None


def _readers(tree: ast.Module) -> set[str]:
    """Functions that read the variable named by one of their parameters (`_int(name, 5)`),
    directly or through another such function (`_networks` calls `_list`)."""
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    readers: set[str] = set()
    while True:
        before = len(readers)
        for function in functions:
            parameters = {argument.arg for argument in function.args.args}
            for node in ast.walk(function):
                key = _read_key(node, readers)
                if isinstance(key, ast.Name) and key.id in parameters:
                    readers.add(function.name)
        if len(readers) == before:
            return readers


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _NO_DEFAULT


def _default(call: ast.AST, parents: dict[ast.AST, ast.AST]) -> object:
    """What the code falls back to: `read(NAME) or "x"`, else the call's last literal."""
    parent = parents.get(call)
    falls_back = (
        isinstance(parent, ast.BoolOp)
        and isinstance(parent.op, ast.Or)
        and len(parent.values) == 2
        and parent.values[0] is call
    )
    if falls_back and isinstance(parent, ast.BoolOp):
        return _literal(parent.values[1])
    if isinstance(call, ast.Call) and len(call.args) > 1:
        return _literal(call.args[-1])
    return _NO_DEFAULT


def reads_in(path: Path) -> tuple[list[Read], list[str]]:
    """The variables `path` reads, and the prefixes of those whose name it computes."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    readers = _readers(tree)
    reads: list[Read] = []
    prefixes: list[str] = []
    for node in ast.walk(tree):
        key = _read_key(node, readers)
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            reads.append(Read(key.value, _default(node, parents)))
        elif isinstance(key, ast.JoinedStr) and key.values:
            first = key.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                prefixes.append(first.value)
    return reads, prefixes


def _family(prefix: str) -> list[Read]:
    """MIMIC_RATE_<door>: one variable per field of RateLimits, its default from there."""
    if prefix not in FAMILIES:
        raise BuildError(
            f"the code computes variable names starting with {prefix!r}: "
            "teach FAMILIES in docs/hooks/variables.py where their list is"
        )
    module_name, _, class_name = FAMILIES[prefix].rpartition(".")
    module = __import__(module_name, fromlist=[class_name])
    limits = getattr(module, class_name)()
    reads = []
    for field in limits.__dataclass_fields__:
        limit = getattr(limits, field)
        default = f"{limit.requests}/{int(limit.window.total_seconds())}"
        reads.append(Read(f"{prefix}{field.upper()}", default))
    return reads


def variables_read_by_code(source: Path = SOURCE) -> dict[str, object]:
    """Every variable the code reads -> its default as the code writes it.

    A variable read in several places with different fallbacks has no single default: the
    meanings file then says what happens when it is unset.
    """
    defaults: dict[str, set[str]] = {}
    literal: dict[str, object] = {}
    for path in sorted(source.rglob("*.py")):
        reads, prefixes = reads_in(path)
        for prefix in prefixes:
            reads.extend(_family(prefix))
        for read in reads:
            defaults.setdefault(read.name, set()).add(repr(read.default))
            literal[read.name] = read.default
    return {
        name: literal[name] if len(seen) == 1 else _NO_DEFAULT for name, seen in defaults.items()
    }


def load_meanings(path: Path = MEANINGS) -> dict[str, dict[str, str]]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def problems(code: dict[str, object], meanings: dict[str, dict[str, str]]) -> list[str]:
    """Why the table would not tell the truth about the code (empty: it does)."""
    found = []
    for name in sorted(set(code) - set(meanings)):
        found.append(f"{name} is read by the code but not explained in docs/variables.toml")
    for name in sorted(set(meanings) - set(code)):
        found.append(f"{name} is explained in docs/variables.toml but the code never reads it")
    for name, entry in meanings.items():
        if not entry.get("meaning"):
            found.append(f"{name}: docs/variables.toml gives no meaning")
        unknown = set(entry) - {"meaning", "unset"}
        if unknown:
            found.append(f"{name}: unknown keys {sorted(unknown)} (meaning, unset)")
        default = code.get(name, _NO_DEFAULT)
        if "unset" in entry and default not in (None, _NO_DEFAULT):
            found.append(
                f"{name}: the code falls back to {default!r}; drop `unset` from "
                "docs/variables.toml (the table shows the code's default)"
            )
    return found


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def table(code: dict[str, object], meanings: dict[str, dict[str, str]]) -> str:
    """Markdown: the variables in the order of the meanings file, which groups them."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, entry in meanings.items():
        default = code.get(name, _NO_DEFAULT)
        if default not in (None, _NO_DEFAULT):
            shown = _shown(default)
        else:
            shown = entry.get("unset", "unset")
        meaning = " ".join(entry["meaning"].split())
        rows.append(f"| `{name}` | {shown} | {meaning} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if PLACEHOLDER not in markdown:
        return markdown
    code = variables_read_by_code()
    meanings = load_meanings()
    found = problems(code, meanings)
    if found:
        raise BuildError("the environment variables table is wrong:\n  " + "\n  ".join(found))
    return markdown.replace(PLACEHOLDER, table(code, meanings))
