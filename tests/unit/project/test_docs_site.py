"""The documentation site's build checks (docs/hooks/), without building the site."""

import importlib.util
from pathlib import Path
from types import ModuleType

from tests.paths import ROOT

DOCS = ROOT / "docs"


def load_hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"docs_hooks_{name}", DOCS / "hooks" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_page_loading_from_another_host_is_caught() -> None:
    offline = load_hook("offline")
    page = """
        <link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">
        <script src="//cdn.example.com/x.js"></script>
        <img srcset="local.png 1x, https://cdn.example.com/big.png 2x">
        <pre class="mermaid">graph LR</pre>
        <div style="background: url('https://cdn.example.com/bg.png')"></div>
        <style>@import url("https://fonts.example.com/a.css"); @import "//x.example/b.css";</style>
    """
    assert len(offline.external_loads(page)) == 7


def test_links_and_local_assets_load_nothing_from_outside() -> None:
    offline = load_hook("offline")
    page = """
        <a href="https://www.tradingview.com/">TradingView</a>
        <link rel="canonical" href="https://mimic.example.com/">
        <link rel="stylesheet" href="assets/stylesheets/main.css">
        <script src="assets/javascripts/bundle.js"></script>
        <img src="img/hexagon.svg">
        <style>.x { background: url(data:image/svg+xml;base64,AAAA); }</style>
    """
    assert offline.external_loads(page) == []


def test_the_committed_pictures_are_what_the_script_draws() -> None:
    spec = importlib.util.spec_from_file_location("docs_diagrams", DOCS / "tools" / "diagrams.py")
    assert spec is not None
    assert spec.loader is not None
    diagrams = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diagrams)
    for name, draw in diagrams.DRAWINGS.items():
        committed = (DOCS / "img" / name).read_text(encoding="utf-8")
        assert committed == draw(), f"docs/img/{name} is stale: run docs/tools/diagrams.py"


def test_every_variable_the_code_reads_is_in_the_operator_guide_table() -> None:
    variables = load_hook("variables")
    code = variables.variables_read_by_code()
    assert {"MIMIC_DATABASE_URL", "MIMIC_RATE_WEBHOOK_PER_IP", "MIMIC_WEBHOOK_ALLOWED_IPS"} <= set(
        code
    )
    assert variables.problems(code, variables.load_meanings()) == []


def test_the_variables_table_sees_every_way_of_reading_the_environment(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text(
        "import os\n"
        "def _int(name, default):\n"
        "    raw = os.environ.get(name)\n"
        "    return default if raw is None else int(raw)\n"
        "def _port(name):\n"
        "    return _int(name, 0) or None\n"
        "A = os.environ.get('MIMIC_A', 'a')\n"
        "B = os.environ.get('MIMIC_B') or 'b'\n"
        "C = _int('MIMIC_C', 5)\n"
        "D = _port('MIMIC_D')\n"
        "E = 'MIMIC_E' in os.environ\n"
        "F = os.environ['MIMIC_F']\n"
        "G = os.getenv('MIMIC_G') or None\n"
    )
    variables = load_hook("variables")
    code = variables.variables_read_by_code(tmp_path)
    assert set(code) == {f"MIMIC_{letter}" for letter in "ABCDEFG"}
    assert (code["MIMIC_A"], code["MIMIC_B"], code["MIMIC_C"], code["MIMIC_G"]) == (
        "a",
        "b",
        5,
        None,
    )

    found = variables.problems(
        code, {"MIMIC_A": {"meaning": "a", "unset": "x"}, "MIMIC_OLD": {"meaning": "gone"}}
    )
    assert "MIMIC_B is read by the code but not explained in docs/variables.toml" in found
    assert "MIMIC_OLD is explained in docs/variables.toml but the code never reads it" in found
    assert any(line.startswith("MIMIC_A: the code falls back to 'a'") for line in found)


def test_the_api_reference_groups_by_tag_else_by_path_and_links_its_schemas() -> None:
    api = load_hook("api_reference")
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Mimic", "version": "0.1.0"},
        "security": [{"BearerToken": []}],
        "paths": {
            "/health": {"get": {"summary": "Health", "security": [], "responses": {}}},
            "/api/admin/users/{user_id}": {
                "patch": {
                    "summary": "Edit",
                    "parameters": [
                        {"name": "user_id", "in": "path", "required": True, "schema": {}}
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Edit"}}
                        },
                    },
                    "responses": {"422": {"description": "Refused | nothing changed"}},
                }
            },
            "/webhook": {"post": {"tags": ["signals"], "responses": {}}},
        },
        "components": {
            "schemas": {
                "Edit": {
                    "type": "object",
                    "properties": {
                        "role": {"enum": ["user", "admin"]},
                        "max_leverage": {"type": ["integer", "null"], "minimum": 1},
                    },
                    "required": ["role"],
                    "additionalProperties": False,
                }
            }
        },
    }
    page = api.render(document)
    assert "## admin/users" in page
    assert "## health" in page
    assert "## signals" in page  # the tag wins over the path
    assert "Credentials: public: no credentials." in page
    assert "Credentials: `BearerToken`." in page
    assert "Body (required): `application/json`: [Edit](#schema-edit)" in page
    assert "### Edit {#schema-edit}" in page
    assert '| `role` | one of `"user"`, `"admin"` | yes |' in page
    assert "| `max_leverage` | integer or null | no | minimum 1 |" in page
    assert "Refused \\| nothing changed" in page  # a pipe does not split the table cell
    assert "Other fields are refused." in page


def test_a_page_the_nav_does_not_list_is_listed_under_more() -> None:
    more_pages = load_hook("more_pages")
    nav = [{"Home": "index.md"}, {"Guides": [{"Follower guide": "follower-guide.md"}, "api.md"]}]
    pages = ["index.md", "follower-guide.md", "api.md", "copy-fidelity.md", "layer-rules.md"]
    assert more_pages.unlisted_pages(nav, pages) == ["copy-fidelity.md", "layer-rules.md"]
