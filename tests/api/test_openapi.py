"""The OpenAPI document: valid OpenAPI 3.1, every route the URLconf serves under /api/v1/, the
Api-Key scheme, problem responses, examples; Swagger UI served offline."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema
from jsonschema import Draft202012Validator

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate_schema(document)
    # OpenAPI 3.1 schemas are JSON Schema 2020-12: each component must be a valid one
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def _routes(patterns, prefix="") -> list[str]:
    routes = []
    for pattern in patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _routes(pattern.url_patterns, text)
        elif isinstance(pattern, URLPattern):
            routes.append("/" + text)
    return routes


def test_every_api_route_of_the_urlconf_is_documented(document):
    served = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).replace("{pk}", "{id}")
        for route in _routes(get_resolver().url_patterns)
        if route.startswith("/api/v1/") and route not in ("/api/v1/schema/", "/api/v1/docs/")
    }
    assert served and served == set(document["paths"])


def test_operations_name_the_key_scheme_and_their_errors(document):
    scheme = document["components"]["securitySchemes"]["ApiKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    plans = document["paths"]["/api/v1/plans/"]["post"]
    assert plans["security"] == [{"ApiKey": []}]
    for code in ("201", "400", "401", "403", "413", "415", "422", "429"):
        assert code in plans["responses"], code
    problem = plans["responses"]["400"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert any(p["name"] == "Idempotency-Key" for p in plans["parameters"])
    # Examples taken from the seed
    example = plans["requestBody"]["content"]["application/json"]["examples"]
    assert any(e["value"]["templateName"] == "sAI-ERComp" for e in example.values())


def test_swagger_ui_is_served_offline(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()
    script = re.search(r'src="(/static/drf_spectacular_sidecar/[^"]+\.js)"', html).group(1)
    assert client.get(script).status_code == 200


def test_the_feeds_example_is_a_valid_envelope(document):
    from events.contract import envelope_errors

    responses = document["paths"]["/api/v1/events/"]["get"]["responses"]
    examples = responses["200"]["content"]["application/json"]["examples"]
    [example] = examples.values()
    for row in example["value"]["results"]:
        assert envelope_errors(row["event"]) == []


def test_the_inbound_batch_is_documented_with_both_bodies_and_its_207(document):
    batch = document["paths"]["/api/v1/inbound/{key}/batch/"]["post"]
    content = batch["requestBody"]["content"]
    assert content["application/json"]["schema"]["type"] == "array"
    assert content["application/x-ndjson"]["schema"]["type"] == "string"
    results = batch["responses"]["207"]["content"]["application/json"]["schema"]
    item = results["properties"]["results"]["items"]["anyOf"]
    assert {"$ref": "#/components/schemas/Problem"} in item
    assert item[0]["properties"]["status"]["enum"] == ["accepted", "duplicate"]
    for code in ("400", "413", "415", "422"):
        assert code in batch["responses"], code
    assert any(p["name"] == "Idempotency-Key" for p in batch["parameters"])
