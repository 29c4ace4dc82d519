"""Issue 9, bug 5: a value a scalar cannot parse gets an error that says what was expected,
with no Python internals (was: `invalid literal for int() with base 10: b'yest'`)."""

from __future__ import annotations

import pytest

from tests.support.client import Api

TRACK = "mutation($e: [EventInput!]!) { trackEvents(events: $e) { accepted } }"
INTERNALS = ("int()", "base 10", "b'", "Traceback", "ValueError", "isoparse", "dateutil")


@pytest.mark.parametrize("value", ["yesterday", "yest", "2024-13-45T99:00:00Z", "", "12:30"])
async def test_a_bad_date_time_variable_says_what_was_expected(api: Api, value: str) -> None:
    body = await api.gql(TRACK, {"e": [{"id": "e1", "type": "APP_OPEN", "occurredAt": value}]})
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    message = error["message"]
    assert "occurredAt" in message and "DateTime cannot represent" in message, message
    assert 'expected an ISO 8601 date and time such as "2024-05-01T12:30:00Z"' in message
    assert not any(bit in str(body) for bit in INTERNALS), body


async def test_a_date_time_of_the_wrong_json_type(api: Api) -> None:
    body = await api.gql(TRACK, {"e": [{"id": "e1", "type": "APP_OPEN", "occurredAt": 1714566600}]})
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "DateTime must be a string" in error["message"], error
    assert not any(bit in error["message"] for bit in INTERNALS)


async def test_a_bad_date_time_literal_in_the_document(api: Api) -> None:
    rex = await api.account("rex")
    body = await api.gql(
        'query($id: ID!) { user(id: $id) { analytics(from: "last week") { postViews } } }',
        {"id": rex.id},
        token=rex.token,
    )
    assert body["errors"], body
    message = body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] in (
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_USER_INPUT",
    ), body
    assert "DateTime cannot represent 'last week'" in message, message
    assert not any(bit in message for bit in INTERNALS), message
