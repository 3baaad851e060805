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
