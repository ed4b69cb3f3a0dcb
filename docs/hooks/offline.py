"""Fails the build when a page would load anything from another host.

Mimic runs where its operator decides, often without the internet: the docs must read the
same offline, so no page may pull scripts, styles, fonts or pictures from a CDN. Links to
other sites are fine (they load nothing until followed).
"""

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from mkdocs.exceptions import BuildError

# Tag -> attributes through which a browser fetches something while showing the page.
LOADING_ATTRIBUTES = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "image": ("href", "xlink:href"),  # inside inline SVG
    "use": ("href", "xlink:href"),
}
# <link rel=...> values that fetch (a rel="canonical" or "alternate" link does not).
LOADING_LINK_RELS = {"stylesheet", "preload", "modulepreload", "icon", "manifest", "prefetch"}


def is_external(url: str) -> bool:
    url = url.strip().lower()
    return url.startswith(("http://", "https://", "//"))


class _ExternalLoads(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "mermaid" in values.get("class", "").split():
            # Material's script fetches mermaid.js from unpkg.com for such an element.
            self.found.append(f"<{tag} class='mermaid'> (draw a committed SVG instead)")
        if tag == "link":
            rels = set(values.get("rel", "").lower().split())
            if rels & LOADING_LINK_RELS and is_external(values.get("href", "")):
                self.found.append(f"<link rel={values['rel']!r} href={values['href']!r}>")
            return
        for attribute in LOADING_ATTRIBUTES.get(tag, ()):
            for url in values.get(attribute, "").split(","):
                if is_external(url.split()[0] if url.split() else ""):
                    self.found.append(f"<{tag} {attribute}={values[attribute]!r}>")
        if "url(" in values.get("style", "") and _css_loads(values["style"]):
            self.found.append(f"<{tag} style={values['style']!r}>")


def _css_loads(css: str) -> list[str]:
    """url(...) and @import of another host in a stylesheet or a style attribute."""
    loads = []
    for part in css.split("url(")[1:]:
        url = part.split(")", 1)[0].strip("'\" ")
        if is_external(url):
            loads.append(f"url({url})")
    for part in css.split("@import")[1:]:
        target = part.split(";", 1)[0].strip()
        if not target.startswith("url(") and is_external(target.strip("'\" ")):
            loads.append(f"@import {target}")
    return loads


def external_loads(html: str) -> list[str]:
    parser = _ExternalLoads()
    parser.feed(html)
    for block in html.split("<style")[1:]:
        parser.found.extend(_css_loads(block.split("</style>", 1)[0]))
    return parser.found


def on_post_page(output: str, page: Any, config: Any) -> str:
    loads = external_loads(output)
    if loads:
        raise BuildError(f"{page.file.src_uri} loads from another host: {'; '.join(loads)}")
    return output


def on_post_build(config: Any) -> None:
    """The theme's own stylesheets (fonts come from there when a theme asks for them)."""
    for stylesheet in Path(config["site_dir"]).rglob("*.css"):
        loads = _css_loads(stylesheet.read_text(encoding="utf-8"))
        if loads:
            raise BuildError(f"{stylesheet} loads from another host: {'; '.join(loads)}")
