"""The documentation site's build checks (docs/hooks/), without building the site."""

import importlib.util
from pathlib import Path
from types import ModuleType

DOCS = Path(__file__).resolve().parents[2] / "docs"


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
