"""ParseCache: a body is parsed again only when its uid or resourceVersion changed; unseen entries are dropped."""

from __future__ import annotations

from typing import Any

from fairshare.api import SpecError, parse_training_job
from fairshare.control.parsecache import ParseCache
from tests.unit.control.builders import training_job


def counting_cache() -> tuple[ParseCache[Any], list[str]]:
    parsed: list[str] = []

    def parse(body: Any) -> Any:
        parsed.append(f"{body['metadata']['name']}@{body['metadata'].get('resourceVersion')}")
        return parse_training_job(body)
    return ParseCache(parse, SpecError), parsed


def test_an_unchanged_body_is_parsed_once_and_a_new_version_again() -> None:
    cache, parsed = counting_cache()
    v1, v2 = training_job("nlp/a").rv(1).body(), training_job("nlp/a").rv(2).body()
    first, _ = cache.get("nlp/a", v1)
    cache.end_cycle()
    again, _ = cache.get("nlp/a", v1)
    cache.end_cycle()
    cache.get("nlp/a", v2)
    assert (parsed, again is first, cache.hits, cache.misses) == (["a@1", "a@2"], True, 1, 2)


def test_a_recreated_object_with_the_same_version_number_is_parsed_again() -> None:
    cache, parsed = counting_cache()
    old = training_job("nlp/a").rv(5).body()
    new = training_job("nlp/a").rv(5).body()
    old["metadata"]["uid"], new["metadata"]["uid"] = "u-old", "u-new"
    cache.get("nlp/a", old)
    cache.end_cycle()
    cache.get("nlp/a", new)
    assert parsed == ["a@5", "a@5"]


def test_bodies_without_a_resource_version_are_always_parsed() -> None:
    cache, parsed = counting_cache()
    body = training_job("nlp/a").body()
    body["metadata"].pop("resourceVersion", None)
    for _ in range(2):
        cache.get("nlp/a", body)
        cache.end_cycle()
    assert len(parsed) == 2


def test_a_spec_error_is_cached_like_a_model() -> None:
    cache, parsed = counting_cache()
    bad = training_job("nlp/bad").workers(3, 2).rv(1).body()
    results = []
    for _ in range(2):
        results.append(cache.get("nlp/bad", bad))
        cache.end_cycle()
    assert [(m, type(e).__name__) for m, e in results] == [(None, "SpecError")] * 2 and len(parsed) == 1


def test_entries_not_asked_for_in_a_cycle_are_dropped() -> None:
    cache, parsed = counting_cache()
    body = training_job("nlp/a").rv(1).body()
    cache.get("nlp/a", body)
    cache.end_cycle()
    cache.end_cycle()  # a cycle in which the job was gone
    cache.get("nlp/a", body)
    assert len(parsed) == 2
