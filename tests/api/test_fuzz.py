"""schemathesis against the live OpenAPI document, over real HTTP (Django's live server) with a
valid key of every scope: every operation, generated valid and invalid input; no 5xx, and every
answer (status, content type, headers, body) conforms to the document.

Examples per operation are bounded (FUZZ_EXAMPLES) so the run stays well under a minute; set
HEALIX_FUZZ_EXAMPLES higher for a deeper run.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ_EXAMPLES = int(os.environ.get("HEALIX_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_every_operation_survives_generated_input(live_server, world, other_world):
    # Given the live document and a key of hrh with every scope
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/?format=json")
    auth = {"Authorization": f"Api-Key {world.key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17
    # When each operation gets generated requests (valid and invalid alike)
    tried = 0
    for operation in operations:

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            nonlocal tried
            tried += 1
            response = case.call(base_url=f"{live_server.url}", headers=auth)
            # Then no answer is a server error, and each one is what the document says
            case.validate_response(response, checks=CHECKS)

        run()
    assert tried >= len(operations)


def test_the_real_ids_are_reachable_with_generated_bodies(live_server, world):
    # The generated ids above are random UUIDs (404s); here the paths and bodies name real
    # rows, so the generated rest of each body reaches the services and their validation.
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/?format=json")
    auth = {"Authorization": f"Api-Key {world.key}"}
    real = {
        "/api/v1/plans/{id}/": {"id": str(world.plan.pk)},
        "/api/v1/work-queue-items/{id}/": {"id": str(world.item.pk)},
        "/api/v1/form-assignments/{id}/submit/": {"id": str(world.assignment.pk)},
        "/api/v1/inbound/{key}/": {"key": "aiEngineTimeSlot"},
        "/api/v1/inbound/{key}/batch/": {"key": "aiEngineTimeSlot"},
        "/api/v1/webhooks/{id}/": {"id": str(world.webhook.pk)},
        "/api/v1/webhooks/{id}/test/": {"id": str(world.webhook.pk)},
        "/api/v1/webhooks/{id}/rotate-secret/": {"id": str(world.webhook.pk)},
        "/api/v1/deliveries/{id}/retry/": {"id": str(world.delivery.pk)},
    }
    real["/api/v1/plans/"] = {}
    statuses: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        # (DELETE would remove the webhook the other operations are fuzzed on)
        if operation.path not in real or operation.method.upper() in ("GET", "DELETE"):
            continue

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(path_parameters=real[operation.path] or None))
        def run(case):
            if case.operation.path == "/api/v1/plans/" and isinstance(case.body, dict):
                # A real template and person, so the rest of the body reaches assign_plan()
                case.body |= {"templateName": "sAI-ERComp", "userId": world.patient_id}
            response = case.call(base_url=f"{live_server.url}", headers=auth)
            statuses.setdefault(case.operation.path, set()).add(response.status_code)
            case.validate_response(response, checks=CHECKS)

        run()
    # The generated bodies did reach the services: some were accepted
    assert 201 in statuses["/api/v1/plans/"]
    assert 200 in statuses["/api/v1/plans/{id}/"]
