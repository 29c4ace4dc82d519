"""bench.faults classifies every answer a client got, and fails a scenario on the answers no
fault excuses (issue 15: never INTERNAL_SERVER_ERROR, never a silent null): a null where
the mix's queries never expect one, with no error on its path, counts as SILENT_NULL."""

from __future__ import annotations

from bench.faults.load import SILENT_NULL, broken, classify


def _error(path: list[str | int] | None, code: str = "SUBREQUEST_HTTP_ERROR") -> dict[str, object]:
    return {"message": "x", "path": path, "extensions": {"code": code}}


FEED_OF_TWO_NULL_NODES = {"feed": {"edges": [{"node": None}, {"node": None}]}}


def test_a_null_with_an_error_on_its_path_is_partial_or_that_error() -> None:
    # the router's one error for a failed entity fetch, at the place its objects share
    assert classify(
        200, {"data": FEED_OF_TWO_NULL_NODES, "errors": [_error(["feed", "edges"])]}
    ) == ("partial")
    # at each null, or below it (a non-null field's error propagated up to the null)
    each = [_error(["feed", "edges", i, "node"]) for i in (0, 1)]
    assert classify(200, {"data": FEED_OF_TWO_NULL_NODES, "errors": each}) == "partial"
    below = [_error(["feed", "edges", i, "node", "likeCount"]) for i in (0, 1)]
    assert classify(200, {"data": FEED_OF_TWO_NULL_NODES, "errors": below}) == "partial"
    # the root field null with its error: no data, the error's code
    assert classify(200, {"data": {"feed": None}, "errors": [_error(["feed"])]}) == (
        "SUBREQUEST_HTTP_ERROR"
    )


def test_a_null_no_error_explains_is_a_silent_null() -> None:
    assert classify(200, {"data": {"feed": None}}) == SILENT_NULL
    assert classify(200, {"data": FEED_OF_TWO_NULL_NODES}) == SILENT_NULL
    # an error elsewhere, or without a path, explains nothing here
    other = [_error(["feed", "edges", 0, "node"])]
    assert classify(200, {"data": FEED_OF_TWO_NULL_NODES, "errors": other}) == SILENT_NULL
    assert classify(200, {"data": FEED_OF_TWO_NULL_NODES, "errors": [_error(None)]}) == (
        SILENT_NULL
    )
    assert classify(200, {"data": FEED_OF_TWO_NULL_NODES, "errors": [_error([])]}) == SILENT_NULL
    # a payload without its object and without its errors
    assert classify(200, {"data": {"likePost": {"post": None, "errors": []}}}) == SILENT_NULL


def test_nulls_that_are_answers_are_not_silent() -> None:
    # a refused write: the payload carries its errors and no object
    refused = {"likePost": {"post": None, "errors": [{"code": "SERVICE_UNAVAILABLE"}]}}
    assert classify(200, {"data": refused}) == "payload:SERVICE_UNAVAILABLE"
    # fields that may be null (a bio, a media URL while processing) are not looked at
    profile = {"user": {"id": "1", "bio": None, "media": [{"url": None}]}}
    assert classify(200, {"data": profile}) == "ok"


def test_broken_answers() -> None:
    for fine in ("ok", "partial", "SERVICE_UNAVAILABLE", "SUBGRAPH_CIRCUIT_BREAKER_REJECTED"):
        assert not broken(fine), fine
    assert not broken("payload:SERVICE_UNAVAILABLE")
    for bad in (SILENT_NULL, "INTERNAL_SERVER_ERROR", "NO_CODE", "HTTP_502", "TimeoutError"):
        assert broken(bad), bad
