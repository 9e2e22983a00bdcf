"""The pieces of the HTTP transport that need no server: a LIST page's continue token, and API errors by status."""

from __future__ import annotations

import json

import pytest

from fairshare.client import errors
from fairshare.client.transport import api_error, continue_token

COLUMNS = json.dumps([{"name": f"C{i}", "type": "string", "description": "d" * 200} for i in range(30)])
ITEMS = json.dumps([{"metadata": {"name": f"job-{i}"}, "spec": {"x": "y" * 50}} for i in range(200)])


@pytest.mark.parametrize(("payload", "want"), [
    pytest.param('{"kind":"L","apiVersion":"v1","metadata":{"resourceVersion":"5","continue":"abc",'
                 '"remainingItemCount":3},"items":' + ITEMS + "}", "abc",
                 id="metadata before items, as the API server writes it: read from the first bytes"),
    pytest.param('{"kind":"L","metadata":{"resourceVersion":"5"},"items":' + ITEMS + "}", None, id="the last page"),
    pytest.param('{"kind":"L","metadata":{"continue":""},"items":[]}', None, id="an empty token is no token"),
    pytest.param('{"items":' + ITEMS + ',"metadata":{"continue":"late"}}', "late",
                 id="metadata after items: the whole page is parsed"),
    pytest.param('{"kind":"L","metadata":{"continue":"' + "t" * 5000 + '"},"items":[]}', "t" * 5000,
                 id="a token longer than the bytes read first"),
    pytest.param('{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"continue":"abc"},"columnDefinitions":'
                 + COLUMNS + ',"rows":[]}', "abc", id="a Table: metadata before columnDefinitions and rows"),
])
def test_continue_token(payload: str, want: str | None) -> None:
    assert continue_token(payload.encode()) == want


@pytest.mark.parametrize(("status", "kind"), [
    (403, errors.Forbidden), (404, errors.NotFound), (409, errors.Conflict), (422, errors.ApiError),
    (500, errors.ApiError),
])
def test_api_errors_carry_the_servers_message(status: int, kind: type[errors.ApiError]) -> None:
    body = json.dumps({"kind": "Status", "reason": "Because", "message": 'trainingjobs "x" is forbidden: no'})
    err = api_error(status, body.encode(), "GET", "/apis/x")
    assert type(err) is kind
    assert (err.status, err.reason, str(err)) == (status, "Because", 'trainingjobs "x" is forbidden: no')
    assert isinstance(err, RuntimeError)  # the CLI prints it as a sentence


def test_a_non_json_error_body_is_quoted() -> None:
    err = api_error(502, b"<html>bad gateway</html>", "GET", "/apis/x")
    assert str(err) == "<html>bad gateway</html>" and err.reason == ""
