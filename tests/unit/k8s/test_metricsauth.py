"""Who may read /metrics: the verdict for each kind of scraper, its brief cache on an injected clock, and the HTTP
server answering with it (the reviews themselves, on the real control plane: tests/integration/test_metrics_auth.py).
"""

from __future__ import annotations

import dataclasses
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from fairshare.k8s.metricsauth import MetricsAuth, User, Verdict, bearer_token
from fairshare.metricsserver import start_metrics_server


@dataclasses.dataclass
class Reviews:
    """Answers as an API server would for three tokens: an unknown one, a user without get on /metrics, a scraper."""

    users: dict[str, User] = dataclasses.field(default_factory=lambda: {
        "tenant-token": User("system:serviceaccount:nlp:default"),
        "prom-token": User("system:serviceaccount:monitoring:prometheus")})
    allowed: frozenset[str] = frozenset({"system:serviceaccount:monitoring:prometheus"})
    down: bool = False
    asked: int = 0

    def authenticate(self, token: str) -> User | None:
        self.asked += 1
        if self.down:
            raise ConnectionError("apiserver unreachable")
        return self.users.get(token)

    def authorize(self, user: User) -> tuple[bool, str]:
        return user.name in self.allowed, "" if user.name in self.allowed else "no RBAC policy matched"


@pytest.mark.parametrize(("header", "want"), [
    pytest.param(None, Verdict(401, "no bearer token"), id="no header: 401"),
    pytest.param("Basic dXNlcjpwYXNz", Verdict(401, "no bearer token"), id="another scheme: 401"),
    pytest.param("Bearer ", Verdict(401, "no bearer token"), id="an empty token: 401"),
    pytest.param("Bearer forged", Verdict(401, "the token is not valid"), id="a token the API server does not know"),
    pytest.param("Bearer tenant-token", Verdict(403, "system:serviceaccount:nlp:default may not get /metrics: no RBAC "
                                                     "policy matched"), id="a tenant's service account: 403"),
    pytest.param("bearer prom-token", Verdict(200, "system:serviceaccount:monitoring:prometheus"),
                 id="the scraper (scheme in any case): 200"),
])
def test_verdicts(header: str | None, want: Verdict) -> None:
    assert MetricsAuth(Reviews()).check(header) == want


def test_verdicts_are_cached_briefly_and_failures_not_at_all() -> None:
    now = [0.0]
    reviews = Reviews()
    auth = MetricsAuth(reviews, clock=lambda: now[0], allowed_ttl=60.0, denied_ttl=10.0)
    for _ in range(5):
        auth.check("Bearer prom-token")
        auth.check("Bearer tenant-token")
    assert reviews.asked == 2, "one review per token while cached"
    now[0] = 11.0
    auth.check("Bearer prom-token")
    auth.check("Bearer tenant-token")
    assert reviews.asked == 3, "a refusal is reviewed again after 10 s, an allowed token after 60 s"
    reviews.allowed = frozenset()  # RBAC revoked: effective once the allowed verdict expires
    now[0] = 61.0
    assert auth.check("Bearer prom-token").status == 403
    reviews.down = True
    now[0] = 200.0
    assert [auth.check("Bearer prom-token").status for _ in range(2)] == [503, 503]
    assert reviews.asked == 6, "a failed review is not remembered: each scrape asks again"


def test_bearer_token() -> None:
    assert [bearer_token(h) for h in (None, "", "Bearer a.b.c", "  Bearer   t  ", "Token t")] == [
        None, None, "a.b.c", "t", None]


def get(url: str, token: str | None = None) -> tuple[int, str, str | None]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode(), None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers.get("WWW-Authenticate")


@pytest.mark.parametrize("auth", [False, True], ids=["open", "token required"])
def test_the_server_answers_with_the_verdict_and_readyz_without_a_token(auth: bool) -> None:
    registry = CollectorRegistry()
    Counter("fairshare_cycles", "Cycles.", registry=registry).inc()
    server = start_metrics_server(0, "127.0.0.1", registry, MetricsAuth(Reviews()).check if auth else None)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        status, body, _ = get(base + "/readyz")
        assert (status, body) == (200, "ok\n")
        anonymous = get(base + "/metrics")
        if not auth:
            assert anonymous[0] == 200 and "fairshare_cycles_total 1.0" in anonymous[1]
            return
        assert anonymous == (401, "no bearer token\n", 'Bearer realm="fairshare-operator metrics"')
        assert get(base + "/metrics", "tenant-token")[0] == 403
        status, body, _ = get(base + "/metrics", "prom-token")
        assert status == 200 and "fairshare_cycles_total 1.0" in body
    finally:
        server.shutdown()
        server.server_close()
