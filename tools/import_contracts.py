"""Import-linter contract types of our own, registered in pyproject.toml's [tool.importlinter].

import-linter's `forbidden` contract names what a layer may NOT import, so every package added to
the project later is allowed until someone remembers to list it. The inner layers (domain, ports,
application) must stay runnable and testable without any framework or SDK: for them we name what
they MAY import instead, the standard library, and everything else from outside the project fails.
"""

from __future__ import annotations

import sys
from typing import Any

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck, InvalidContractOptions
from importlinter.domain.imports import Module


class StandardLibraryOnlyContract(Contract):
    """The source packages import nothing from outside the project but the standard library.

    Options:
        source_modules:  packages of the project (each with all its subpackages) that are checked.
        also_allowed:    top-level names of third-party distributions allowed on top of the
                         standard library (optional; every entry widens the inner layers, so each
                         wants a reason next to it in the configuration).

    Imports inside the project are not judged here: the layers contract keeps the project's own
    packages in order, so a chain through another of our modules is caught there.
    """

    type_name = "standard_library_only"

    source_modules = fields.ListField(subfield=fields.ModuleField())
    also_allowed = fields.ListField(subfield=fields.StringField(), required=False, default=[])

    def validate(self) -> None:
        # Without the external packages in the graph every check would pass, whatever is imported.
        if str(self.session_options.get("include_external_packages")).lower() != "true":
            raise InvalidContractOptions(
                {"source_modules": "needs include_external_packages = true at the top level"}
            )

    def _parsed(self, field_name: str) -> Any:
        # The fields are declared on the class; Contract sets the parsed values on the instance.
        return vars(self)[field_name]

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        sources: list[Module] = self._parsed("source_modules")
        allowed = set(sys.stdlib_module_names) | set(self._parsed("also_allowed"))
        root_packages = set(self.session_options["root_packages"])
        illegal: list[dict[str, Any]] = []
        for source in sources:
            if source.name not in graph.modules:
                raise ValueError(f"Module '{source.name}' does not exist.")
            for importer in sorted(graph.find_descendants(source.name) | {source.name}):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    top_level = imported.split(".")[0]
                    if top_level in root_packages or top_level in allowed:
                        continue
                    details = graph.get_import_details(importer=importer, imported=imported)
                    illegal.append(
                        {
                            "importer": importer,
                            "imported": imported,
                            "line_numbers": sorted(d["line_number"] for d in details),
                        }
                    )
        return ContractCheck(kept=not illegal, metadata={"illegal_imports": illegal})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for illegal in check.metadata["illegal_imports"]:
            lines = ", ".join(f"l.{number}" for number in illegal["line_numbers"])
            output.print_error(
                f"{illegal['importer']} imports {illegal['imported']} ({lines}): "
                "not in the standard library",
                bold=False,
            )
            output.new_line()
        output.print_error(
            "Move the code that needs it into an adapter behind a port (see docs/layer-rules.md).",
            bold=False,
        )
