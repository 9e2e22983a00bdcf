"""Prometheus mode: one instant query for every trainer's rank-0 gauges, matched to jobs by `trainingjob` label."""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Sequence

from fairshare.feedback.readings import READ_METRICS, SAMPLES_PER_SECOND, Reading, Target, reading_from_values

log = logging.getLogger(__name__)


def trainer_query(selector: str = "", names: Sequence[str] = READ_METRICS) -> str:
    """The PromQL selector for the gauges the loop reads, from rank 0 only; `selector` adds label matchers."""
    extra = f",{selector}" if selector else ""
    return f'{{__name__=~"{"|".join(names)}",rank="0"{extra}}}'


class PrometheusSource:
    """Asks a Prometheus server (e.g. the cluster's, scraping trainer pods) instead of the trainers themselves."""

    name = "prometheus"

    def __init__(self, url: str, timeout_seconds: float = 5.0, selector: str = "") -> None:
        self.url, self.timeout, self.selector = url.rstrip("/"), timeout_seconds, selector

    def query(self, promql: str) -> list[dict[str, object]]:
        """Run an instant query; the `result` vector. Raises on HTTP errors or a non-success status."""
        data = urllib.parse.urlencode({"query": promql}).encode()
        with urllib.request.urlopen(f"{self.url}/api/v1/query", data=data, timeout=self.timeout) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus query failed: {body.get('errorType')}: {body.get('error')}")
        result = body["data"]["result"]
        assert isinstance(result, list)
        return result

    def read(self, targets: Sequence[Target]) -> tuple[list[Reading], int]:
        """Readings of the targets Prometheus has fresh series for, and how many it had none for."""
        if not targets:
            return [], 0
        # trainingjob -> gpu_class -> metric -> (value, labels, timestamp): a resized or moved job may still have
        # its previous class's series for a few minutes (Prometheus's lookback); the target's class picks one.
        series: dict[str, dict[str, dict[str, tuple[float, dict[str, str], float]]]] = {}
        # An instant query answers at evaluation time; timestamp() gives when each sample was really scraped.
        scraped: dict[tuple[str, str], float] = {}
        for item in self.query(f"timestamp({trainer_query(self.selector, (SAMPLES_PER_SECOND,))})"):
            labels = dict(item["metric"])  # type: ignore[call-overload]
            key = (labels.get("trainingjob", ""), labels.get("gpu_class", ""))
            scraped[key] = min(scraped.get(key, float("inf")), float(item["value"][1]))  # type: ignore[index]
        for item in self.query(trainer_query(self.selector)):
            labels = dict(item["metric"])  # type: ignore[call-overload]
            value = item["value"][1]  # type: ignore[index]
            job, cls = labels.get("trainingjob", ""), labels.get("gpu_class", "")
            series.setdefault(job, {}).setdefault(cls, {})[labels["__name__"]] = (
                float(value), labels, scraped.get((job, cls), 0.0))
        readings: list[Reading] = []
        for target in targets:
            found = series.get(target.job_key, {}).get(target.gpu_class)
            if not found:
                continue
            observed_at = min(ts for _, _, ts in found.values())
            reading = reading_from_values(target, {k: (v, lab) for k, (v, lab, _) in found.items()}, observed_at)
            if reading is not None:
                readings.append(reading)
        return readings, len(targets) - len(readings)
