"""Schemathesis over the whole OpenAPI schema, once per role, against the app served over HTTP.

Each role's run is schemathesis' own engine (what `st run` does) with the role's personal API token:

- coverage: deterministic edge cases of every parameter and body field (boundaries, wrong types, missing
  required fields), methods the schema does not list, wrong content types, no Authorization header;
- fuzzing: random valid and invalid requests to every operation;
- stateful: sequences of calls linked by the ids in the answers (create a provider, read it, delete it, ...).

Every answer must pass every check in CHECKS: no server error, a documented status, content type and body,
invalid data refused, valid data not refused for its form, 405 with Allow for an unlisted method, 401
without credentials. A finding is fixed at its root (the schema or the view), never silenced here.

The run is bounded by counts, not by time (a time limit would make it test less on a busy machine):
EXAMPLES per operation and generation mode, STATEFUL_STEPS per scenario, and the coverage phase spread over
the roles (coverage_assignments).
"""

import pytest
import schemathesis
from django.core.servers.basehttp import WSGIServer
from django.test import Client
from django.test.testcases import LiveServerThread
from django.urls import resolve
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import StopReason, events, from_schema

from clinic import services
from clinic.models import Role
from clinic.permissions import PERMISSIONS
from tests.api_objects import api_objects

pytestmark = pytest.mark.schemafuzz  # CI's second pass (another PostgreSQL, same code) leaves it out

EXAMPLES = 3  # fuzzed requests per operation, generation mode (positive, negative) and role: 12 in all
STATEFUL_STEPS = 6  # calls in one stateful scenario
STATEFUL_EXAMPLES = 10  # stateful scenarios per run

CHECKS = {
    # All of schemathesis' checks are on, and each of these is configured or off for a reason:
    "enabled": True,
    # Valid data must not be refused for its form: no 401, 403, 405, 406, 413, 415 or 422 for a request that
    # matches the schema. A 400 is allowed: the schema cannot state every rule (an NPI's check digit, an MRN
    # unique in the clinic, a referral's status transitions, the content of a FHIR Bundle); a 404 too: the
    # role may not take the action, or may not see the object.
    "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404"]},
    # Invalid data is refused as invalid (400), before anything else: the role may not take the action (404),
    # the Authorization header the generator broke is no credential (401), a body too large or not JSON (413,
    # 415). Never accepted (2xx), and never 403, 405 or 422 for it.
    "negative_data_rejection": {"expected-statuses": ["400", "401", "404", "413", "415"]},
    # Compares what one identity reads with what another may read; it needs identities declared to
    # schemathesis as peers (a WFC auth file). Another clinic's member is refused every method on every
    # endpoint in tests/test_api_methods.py, and the selectors' 404s in the per-app API tests.
    "object_level_authorization": {"enabled": False},
}


class SerialWSGIServer(WSGIServer):
    """Answers one request at a time on the server's thread, so its database connection lasts from request
    to request: Django's threaded test server opens and closes one per request, which doubled the run."""

    def __init__(self, *args, connections_override=None, **kwargs):
        super().__init__(*args, **kwargs)


class SerialLiveServerThread(LiveServerThread):
    server_class = SerialWSGIServer


@pytest.fixture
def base_url(transactional_db, settings):
    """The project's WSGI app on a real socket, in a thread of its own (its own database connection, so the
    data is committed: transactional_db)."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    server = SerialLiveServerThread("localhost", static_handler=lambda handler: handler)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    yield f"http://localhost:{server.port}"
    server.terminate()


@pytest.fixture
def objects(team_a, patient_a):
    return api_objects(team_a, patient_a)


def coverage_assignments(openapi: dict, objects: dict) -> dict[str, list[str]]:
    """The operation ids whose coverage cases each role sends.

    Coverage is deterministic: the same cases whatever the token. So each operation's cases are sent once,
    with the token of a role that may take the action (with another, the permission check answers 404
    before the body is read), spread so that the roles' runs take about as long: operations open to the
    fewest roles first, larger before smaller, each to the permitted role with the least work so far
    (work: the parameters and body fields to cover). PUT is left out: it validates every field of its
    POST again, all required as there; PATCH covers the update.
    """
    operations = []
    for template, methods in openapi["paths"].items():
        path = template.format(**objects)
        match = resolve(path)
        for method, operation in methods.items():
            if method == "put":
                continue
            view = match.func.cls  # DRF's as_view() keeps the view class here
            action = match.func.actions[method] if hasattr(match.func, "actions") else method
            permission = view.permissions_by_action[action]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            size = 1 + len(operation.get("parameters", [])) + len(properties(openapi, body))
            operations.append((size, operation["operationId"], sorted(PERMISSIONS[permission])))
    work = dict.fromkeys(Role.values, 0)
    assigned = {role: [] for role in Role.values}
    for size, operation_id, roles in sorted(operations, key=lambda item: (len(item[2]), -item[0], item[1])):
        role = min(roles, key=lambda role: (work[role], Role.values.index(role)))
        work[role] += size
        assigned[role].append(operation_id)
    return assigned


def properties(openapi: dict, schema: dict | None) -> dict:
    if not schema:
        return {}
    if "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema.get("properties", {})


def run_config(raw_token: str, objects: dict, covered: list[str]) -> SchemathesisConfig:
    others = {"exclude-operation-id": covered} if covered else {"include-path-regex": ".*"}
    return SchemathesisConfig.from_dict({
        "seed": 20250302,
        "workers": 1,
        "continue-on-failure": True,  # every finding of the run at once
        "cache": {"enabled": False},  # nothing learned in one run steers the next
        "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        # Coverage sends requests without the Authorization header (401); fuzzing and stateful keep the token,
        # so that their requests reach the views rather than stop at a mangled header.
        "phases": {
            "fuzzing": {"generation": {"with-security-parameters": False}},
            "stateful": {
                "max-steps": STATEFUL_STEPS,
                "generation": {"max-examples": STATEFUL_EXAMPLES, "with-security-parameters": False},
            },
        },
        "checks": CHECKS,
        "parameters": objects,
        "auth": {"openapi": {"apiToken": {"bearer": raw_token}}},
        "operations": [{**others, "phases": {"coverage": {"enabled": False}}}],
    })  # fmt: skip


def findings(stream) -> tuple[list[str], events.EngineFinished | None]:
    """Every failed check and every error of a run, one paragraph each, with a curl line to replay it."""
    found, finished = [], None
    for event in stream:
        if isinstance(event, events.ScenarioFinished):
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.failure_info is not None:
                        failure = node.failure_info.failure
                        found.append(
                            f"[{event.phase}] {failure.operation} {node.name}: {failure.title}\n"
                            f"{failure.message}\n{node.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            found.append(f"[{event.phase}] {event.label}: error {event.value!r}")
        elif isinstance(event, events.FatalError):
            found.append(f"fatal error {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            finished = event
            found += [f"{failure.operation}: {failure.title}\n{failure.message}" for failure in event.failures]
    return list(dict.fromkeys(found)), finished


@pytest.mark.parametrize("role", Role.values)
def test_every_operation_answers_as_documented_with_a_roles_token(role, base_url, team_a, objects):
    _, raw = services.api_token_create(membership=team_a[role].membership, name="schemathesis")
    openapi = Client().get("/api/schema/?format=json").json()
    covered = coverage_assignments(openapi, objects)[role]
    config = run_config(raw, objects, covered)
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json", config=config)
    found, finished = findings(from_schema(schema).execute())
    if found:
        pytest.fail(f"{len(found)} findings with the {role}'s token:\n\n" + "\n\n".join(found), pytrace=False)
    assert finished is not None and finished.stop_reason == StopReason.COMPLETED
