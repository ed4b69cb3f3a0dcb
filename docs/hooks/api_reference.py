"""The API reference page, rendered from the app's own OpenAPI document at build time.

The document is the one the running app serves at /schema/openapi.json: the app is built
(not started: nothing is connected) and asked for it, so the page shows every route, its
security, parameters, bodies and responses as the code declares them. Operations are
grouped by their first tag, else by their path (`/api/admin/users/...` under admin/users).
"""

import json
from collections.abc import Iterable
from typing import Any

PLACEHOLDER = "<!-- mimic:api-reference -->"
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
CONSTRAINTS = (
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "format",
)

Schema = dict[str, Any]


def openapi_document() -> Schema:
    # Imported here: only this page needs the app, and building it imports everything.
    from mimic.entrypoints.config import Settings
    from mimic.entrypoints.http.app import create_app

    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    document: Schema = app.openapi_schema.to_schema()
    return document


def _cell(text: str) -> str:
    """Text that fits in one table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def schema_anchor(name: str) -> str:
    return "schema-" + "".join(c if c.isalnum() else "-" for c in name.lower())


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: Schema) -> str:
    """A schema in a few words, linking to the named schemas it uses."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[{name}](#{schema_anchor(name)})"
    for combiner in ("oneOf", "anyOf"):
        if combiner in schema:
            return " or ".join(type_of(option) for option in schema[combiner])
    if "allOf" in schema:
        return " and ".join(type_of(part) for part in schema["allOf"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(type_of({**schema, "type": one}) for one in kind)
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_of(schema['additionalProperties'])}"
    return str(kind or "any")


def constraints_of(schema: Schema) -> str:
    parts = [f"{key} {schema[key]}" for key in CONSTRAINTS if key in schema]
    if "default" in schema:
        parts.append(f"default `{json.dumps(schema['default'])}`")
    return ", ".join(parts)


def group_of(path: str, operation: Schema) -> str:
    tags = operation.get("tags") or []
    if tags:
        return str(tags[0])
    segments = [s for s in path.strip("/").split("/") if s and not s.startswith("{")]
    if segments and segments[0] == "api":
        segments = segments[1:]
    if not segments:
        return "root"
    if segments[0] == "admin" and len(segments) > 1:
        return f"admin/{segments[1]}"
    return segments[0]


def _security(operation: Schema, document: Schema) -> str:
    requirements = operation.get("security", document.get("security"))
    if not requirements:
        return "public: no credentials"
    options = [" and ".join(f"`{name}`" for name in requirement) for requirement in requirements]
    if any(not requirement for requirement in requirements):
        return "optional: " + " or ".join(option for option in options if option)
    return " or ".join(options)


def _body(content: Schema) -> Iterable[str]:
    for media_type, media in content.items():
        schema = media.get("schema")
        yield f"`{media_type}`" + (f": {type_of(schema)}" if schema else "")


def render_operation(method: str, path: str, operation: Schema, document: Schema) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    if operation.get("summary"):
        lines += [
            f"**{operation['summary']}**"
            + (" (deprecated)" if operation.get("deprecated") else ""),
            "",
        ]
    if operation.get("description"):
        lines += [operation["description"].strip(), ""]
    lines += [f"Credentials: {_security(operation, document)}.", ""]
    parameters = operation.get("parameters") or []
    if parameters:
        lines += ["| parameter | in | type | required | notes |", "|---|---|---|---|---|"]
        for parameter in parameters:
            schema = parameter.get("schema", {})
            notes = "; ".join(
                part for part in (parameter.get("description", ""), constraints_of(schema)) if part
            )
            lines.append(
                f"| `{parameter['name']}` | {parameter.get('in', '')} | {_cell(type_of(schema))} "
                f"| {'yes' if parameter.get('required') else 'no'} | {_cell(notes)} |"
            )
        lines.append("")
    body = operation.get("requestBody")
    if body:
        required = " (required)" if body.get("required") else ""
        lines += [f"Body{required}: " + "; ".join(_body(body.get("content", {}))), ""]
    responses = operation.get("responses") or {}
    if responses:
        lines += ["| status | meaning | body |", "|---|---|---|"]
        for status, response in responses.items():
            content = "; ".join(_body(response.get("content", {})))
            lines.append(
                f"| {status} | {_cell(response.get('description', ''))} | {_cell(content)} |"
            )
        lines.append("")
    return lines


def render_schema(name: str, schema: Schema) -> list[str]:
    lines = [f"### {name} {{#{schema_anchor(name)}}}", ""]
    if schema.get("description"):
        lines += [schema["description"].strip(), ""]
    properties = schema.get("properties")
    if not properties:
        return [*lines, f"Type: {type_of(schema)}.", ""]
    required = set(schema.get("required", []))
    lines += ["| field | type | required | notes |", "|---|---|---|---|"]
    for field, field_schema in properties.items():
        notes = "; ".join(
            part
            for part in (field_schema.get("description", ""), constraints_of(field_schema))
            if part
        )
        lines.append(
            f"| `{field}` | {_cell(type_of(field_schema))} | "
            f"{'yes' if field in required else 'no'} | {_cell(notes)} |"
        )
    if schema.get("additionalProperties") is False:
        lines += ["", "Other fields are refused."]
    return [*lines, ""]


def render(document: Schema) -> str:
    groups: dict[str, list[tuple[str, str, Schema]]] = {}
    for path, item in sorted(document.get("paths", {}).items()):
        for method in METHODS:
            if method in item:
                groups.setdefault(group_of(path, item[method]), []).append(
                    (method, path, item[method])
                )
    schemes = document.get("components", {}).get("securitySchemes", {})
    lines = [
        f"The document below is {document['info']['title']} {document['info']['version']}, "
        f"OpenAPI {document['openapi']}: {sum(len(g) for g in groups.values())} operations "
        f"on {len(document.get('paths', {}))} paths.",
        "",
    ]
    if schemes:
        lines += ["## Security schemes", "", "| name | scheme |", "|---|---|"]
        for name, scheme in schemes.items():
            where = ", ".join(
                f"{key} `{scheme[key]}`"
                for key in ("type", "scheme", "in", "name")
                if key in scheme
            )
            lines.append(f"| `{name}` | {_cell(where)} |")
        lines.append("")
    for group in sorted(groups):
        lines += [f"## {group}", ""]
        for method, path, operation in groups[group]:
            lines += render_operation(method, path, operation, document)
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        lines += ["## Schemas", ""]
        for name in sorted(schemas):
            lines += render_schema(name, schemas[name])
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if PLACEHOLDER not in markdown:
        return markdown
    return markdown.replace(PLACEHOLDER, render(openapi_document()))
