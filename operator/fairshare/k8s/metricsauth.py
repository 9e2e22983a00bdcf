"""Who may read /metrics: a bearer token checked with a TokenReview, then authorized with a SubjectAccessReview (get
on the nonResourceURL /metrics), as kube-rbac-proxy does; verdicts are cached briefly, keyed by the token's hash."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from kubernetes import client

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
ALLOWED_TTL_SECONDS = 60.0  # a token allowed stays allowed this long without another review
DENIED_TTL_SECONDS = 10.0  # a refused or unknown token is refused this long without another review
MAX_CACHED = 1024  # distinct tokens remembered; beyond it the cache starts afresh
REVIEW_TIMEOUT_SECONDS = 5.0


@dataclasses.dataclass(frozen=True)
class User:
    """Who a TokenReview says a token belongs to."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The HTTP answer to a scrape: 200 (serve the metrics), 401 (no token, or one the API server does not know),
    403 (a known user without get on /metrics), or 503 (the API server could not be asked); and why."""

    status: int
    reason: str


class Reviews(Protocol):
    """The two questions asked of the API server."""

    def authenticate(self, token: str) -> User | None: ...

    def authorize(self, user: User) -> tuple[bool, str]: ...


class ApiReviews:
    """TokenReview and SubjectAccessReview through the Kubernetes API, each bounded by a timeout."""

    def __init__(self, api: client.ApiClient, timeout: float = REVIEW_TIMEOUT_SECONDS) -> None:
        self.authn = client.AuthenticationV1Api(api)
        self.authz = client.AuthorizationV1Api(api)
        self.timeout = timeout

    def authenticate(self, token: str) -> User | None:
        review = self.authn.create_token_review(
            client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token)), _request_timeout=self.timeout)
        status = review.status
        if status is None or not status.authenticated or status.user is None:
            return None
        user = status.user
        return User(user.username or "", user.uid or "", tuple(user.groups or ()),
                    {k: tuple(v) for k, v in (user.extra or {}).items()})

    def authorize(self, user: User) -> tuple[bool, str]:
        spec = client.V1SubjectAccessReviewSpec(
            user=user.name, uid=user.uid or None, groups=list(user.groups) or None,
            extra={k: list(v) for k, v in user.extra.items()} or None,
            non_resource_attributes=client.V1NonResourceAttributes(path=METRICS_PATH, verb="get"))
        review = self.authz.create_subject_access_review(client.V1SubjectAccessReview(spec=spec),
                                                         _request_timeout=self.timeout)
        status = review.status
        return bool(status and status.allowed), (status.reason or "") if status else ""


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None without one."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class MetricsAuth:
    """Decides each scrape; thread-safe (the metrics server answers each request on its own thread)."""

    def __init__(self, reviews: Reviews, clock: Callable[[], float] = time.monotonic,
                 allowed_ttl: float = ALLOWED_TTL_SECONDS, denied_ttl: float = DENIED_TTL_SECONDS,
                 max_cached: int = MAX_CACHED) -> None:
        self.reviews = reviews
        self.clock = clock
        self.allowed_ttl, self.denied_ttl, self.max_cached = allowed_ttl, denied_ttl, max_cached
        self._cache: dict[str, tuple[float, Verdict]] = {}
        self._lock = threading.Lock()
        self.reviews_made = 0

    def check(self, authorization: str | None) -> Verdict:
        """Rule: no bearer token is 401; a token the TokenReview does not authenticate is 401; an authenticated user
        the SubjectAccessReview does not allow to get /metrics is 403; else 200. A review that fails (the API server
        unreachable) is 503 and not remembered; every other verdict is, for a short while."""
        token = bearer_token(authorization)
        if token is None:
            return Verdict(401, "no bearer token")
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        try:
            verdict = self._review(token)
        except Exception as exc:  # the API server's refusal or absence: the scraper retries
            log.warning("metrics: token review failed: %s", exc)
            return Verdict(503, "the token could not be reviewed")
        ttl = self.allowed_ttl if verdict.status == 200 else self.denied_ttl
        with self._lock:
            if len(self._cache) >= self.max_cached:
                self._cache.clear()
            self._cache[key] = (now + ttl, verdict)
        return verdict

    def _review(self, token: str) -> Verdict:
        self.reviews_made += 1
        user = self.reviews.authenticate(token)
        if user is None:
            return Verdict(401, "the token is not valid")
        allowed, reason = self.reviews.authorize(user)
        if not allowed:
            return Verdict(403, f"{user.name} may not get {METRICS_PATH}{': ' + reason if reason else ''}")
        return Verdict(200, user.name)
