"""Pages in docs/ that mkdocs.yml's nav does not list go under "More" instead of failing.

A branch that adds a page (a feature's own write-up) should not break `make docs` the day
it is merged, nor leave the page unreachable: it is linked from the navigation at once, and
moved to its place in the nav when someone gets to it.
"""

from typing import Any

MORE = "More"


def _listed(nav: Any) -> set[str]:
    """Every page path the nav names, at any depth."""
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, dict):
        return set().union(*(_listed(value) for value in nav.values()))
    if isinstance(nav, list):
        return set().union(*(_listed(item) for item in nav))
    return set()


def unlisted_pages(nav: Any, pages: list[str]) -> list[str]:
    listed = _listed(nav)
    return sorted(page for page in pages if page not in listed)


def on_files(files: Any, config: Any) -> Any:
    nav = config["nav"]
    if nav is None:  # no nav: mkdocs lists every page by itself
        return files
    # `mkdocs serve` may build again with the same config: drop what an earlier build added.
    nav[:] = [item for item in nav if not (isinstance(item, dict) and MORE in item)]
    pages = [file.src_uri for file in files.documentation_pages()]
    more = unlisted_pages(nav, pages)
    if more:
        nav.append({MORE: more})
    return files
