"""Hypothesis strategies for documents valid under a JSON Schema: the subset pydantic emits.

Written here because hypothesis-jsonschema no longer runs with current Hypothesis. Lists are
kept short (at most ``max_list``) so that an example is a batch, not a megabyte.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

Schema = dict[str, Any]


def from_schema(root: Schema, max_list: int = 3) -> st.SearchStrategy[Any]:
    definitions: dict[str, Schema] = root.get("$defs", {})

    def resolve(schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = definitions[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def strategy(schema: Schema) -> st.SearchStrategy[Any]:
        schema = resolve(schema)
        if "const" in schema:
            return st.just(schema["const"])
        if "anyOf" in schema:
            return st.one_of([strategy(option) for option in schema["anyOf"]])
        kind = schema.get("type")
        if kind == "null":
            return st.none()
        if kind == "boolean":
            return st.booleans()
        if kind == "integer":
            low = schema.get("minimum")
            if "exclusiveMinimum" in schema:
                low = schema["exclusiveMinimum"] + 1
            return st.integers(min_value=low, max_value=schema.get("maximum"))
        if kind == "number":
            return st.floats(
                min_value=schema.get("minimum"),
                max_value=schema.get("maximum"),
                allow_nan=False,
                allow_infinity=False,
            )
        if kind == "string":
            return text(schema)
        if kind == "array":
            return st.lists(
                strategy(schema["items"]),
                min_size=schema.get("minItems", 0),
                max_size=min(schema.get("maxItems", max_list), max_list),
            )
        if kind == "object":
            return objects(schema)
        raise ValueError(f"schema construct not covered: {schema}")

    def text(schema: Schema) -> st.SearchStrategy[str]:
        low, high = schema.get("minLength", 0), schema.get("maxLength", 64)
        if "pattern" not in schema:
            return st.text(min_size=low, max_size=high)
        pattern: str = schema["pattern"]
        return st.from_regex(pattern, fullmatch=True).filter(
            lambda value: low <= len(value) <= high
        )

    def objects(schema: Schema) -> st.SearchStrategy[dict[str, Any]]:
        properties: dict[str, Schema] = schema.get("properties", {})
        if not properties:
            names: Schema = {"type": "string", **schema.get("propertyNames", {})}
            values_schema: Schema = schema.get("additionalProperties", {"type": "string"})
            for pattern, inner in schema.get("patternProperties", {}).items():
                names, values_schema = {**names, "pattern": pattern}, inner
            keys, values = strategy(names), strategy(values_schema)
            return st.dictionaries(
                keys, values, max_size=min(schema.get("maxProperties", max_list), max_list)
            )
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {name: strategy(inner) for name, inner in properties.items() if name in required},
            optional={
                name: strategy(inner) for name, inner in properties.items() if name not in required
            },
        )

    return strategy(root)
