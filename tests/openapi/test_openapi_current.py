"""The committed OpenAPI documents match the code, and every operation documents its errors."""

from __future__ import annotations

from tools import openapi


def test_committed_documents_are_current():
    for name, doc in openapi.documents().items():
        path = openapi.OUT / f"{name}.json"
        assert path.exists(), f"{path} missing: run make openapi"
        assert path.read_text(encoding="utf-8") == openapi.render(doc), f"{path} is stale: run make openapi"


def test_operation_ids_are_unique_verb_noun_names():
    for name, doc in openapi.documents().items():
        ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
        assert len(ids) == len(set(ids)), name
        assert all("_" in i and i.islower() for i in ids), [i for i in ids if "_" not in i]


def test_authenticated_operations_document_401_as_a_problem():
    for name, doc in openapi.documents().items():
        for path, item in doc["paths"].items():
            for method, op in item.items():
                if op.get("security"):
                    assert "401" in op["responses"], f"{name} {method.upper()} {path}"
                    content = op["responses"]["401"]["content"]
                    assert "application/problem+json" in content


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _exemplified(doc: dict, schema: dict, depth: int = 0) -> bool:
    """The schema carries an example, or (an object or a list of them) is made of parts that all do."""
    schema = _resolve(doc, schema)
    if "example" in schema or "examples" in schema or "const" in schema or "enum" in schema:
        return True
    if depth > 6:
        return False
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            parts = [p for p in schema[key] if p.get("type") != "null"]
            return bool(parts) and all(_exemplified(doc, p, depth + 1) for p in parts)
    if schema.get("type") == "array":
        return _exemplified(doc, schema.get("items", {}), depth + 1)
    if schema.get("type") == "object" and schema.get("properties"):
        return all(_exemplified(doc, p, depth + 1) for p in schema["properties"].values())
    if schema.get("type") in ("boolean", "integer", "number", "string") and "format" in schema:
        return schema["format"] == "binary"  # an uploaded file needs no example
    return schema.get("default") is not None


def test_every_mobile_operation_has_examples():
    """Mini-program developers build against /m/docs: every request body and every success answer of the
    mobile API shows an example."""
    doc = openapi.documents().get("mobile")
    if doc is None:
        return
    missing = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if "operations" in op.get("tags", []):
                continue
            body = op.get("requestBody", {}).get("content", {})
            for media, spec in body.items():
                if not (
                    spec.get("example") or spec.get("examples") or _exemplified(doc, spec.get("schema", {}))
                ):
                    missing.append(f"{method.upper()} {path} request {media}")
            for code, resp in op["responses"].items():
                if not code.startswith("2") or code == "204":
                    continue
                for media, spec in resp.get("content", {}).items():
                    if media.startswith("image/") or media == "application/octet-stream":
                        continue
                    if not (
                        spec.get("example")
                        or spec.get("examples")
                        or _exemplified(doc, spec.get("schema", {}))
                    ):
                        missing.append(f"{method.upper()} {path} {code} {media}")
    assert not missing, "no example: " + "; ".join(missing)
