"""All Prometheus metrics of the trainer, one registry per process, served on FAIRSHARE_METRICS_PORT + LOCAL_RANK."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

PREFIX = "fairshare_trainer"
# Constant per process and bounded: one TrainingJob, one GPU class, ranks below the world size.
# Never a per-step label. "job" and "namespace" are avoided: Prometheus sets those on every target.
LABELS = ("trainingjob", "gpu_class", "rank")
SMOOTHING_SECONDS = 5.0  # samples/s averages over roughly the last five seconds, whatever the step time


class ThroughputSmoother:
    """Exponential moving average of a rate, weighted by elapsed time so fast and slow steps smooth alike."""

    def __init__(self, time_constant_seconds: float = SMOOTHING_SECONDS) -> None:
        self.time_constant = time_constant_seconds
        self.rate: float | None = None

    def update(self, amount: float, elapsed_seconds: float) -> float:
        if elapsed_seconds <= 0:
            return self.rate or 0.0
        instantaneous = amount / elapsed_seconds
        if self.rate is None:
            self.rate = instantaneous
        else:
            weight = 1.0 - math.exp(-elapsed_seconds / self.time_constant)
            self.rate += weight * (instantaneous - self.rate)
        return self.rate


class TrainerMetrics:
    """The trainer's metrics; throughput values are job-wide (the global batch), the same on every rank."""

    def __init__(
        self, job: str, gpu_class: str, rank: int, device: torch.device, clock: Callable[[], float] = time.time
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._labels = {"trainingjob": job, "gpu_class": gpu_class, "rank": str(rank)}
        self._last_checkpoint_unix: float | None = None
        self._started_unix = clock()
        self._server: Any = None

        def gauge(name: str, documentation: str, unit: str = "") -> Any:
            return Gauge(f"{PREFIX}_{name}", documentation, LABELS, unit=unit, registry=self.registry).labels(
                **self._labels
            )

        self.step = gauge("step", "Optimizer steps completed by the job, including those before a resume.")
        self.total_steps = gauge("total_steps", "Optimizer steps the job will run in all (max_steps); 0 if unbounded.")
        self.samples = Counter(
            f"{PREFIX}_samples",
            "Training samples (sequences) processed by the job since this process started.",
            LABELS,
            registry=self.registry,
        ).labels(**self._labels)
        self.samples_per_second = gauge(
            "samples_per_second", "Job-wide training throughput in samples per second, smoothed over ~5 s."
        )
        self.tokens_per_second = gauge("tokens_per_second", "Job-wide training throughput in tokens per second.")
        self.loss = gauge("loss", "Training loss of the last step, mean over ranks, in nats per token.")
        self.world_size = gauge("world_size", "Number of processes (ranks) in the job.")
        self.model_parameters = gauge("model_parameters", "Number of trainable model parameters.")
        self.last_checkpoint_step = gauge(
            "last_checkpoint_step", "Step of the newest checkpoint written or resumed from; -1 if none."
        )
        self.last_checkpoint_step.set(-1)
        gauge(
            "checkpoint_age_seconds",
            "Seconds since the newest checkpoint was written, or since training started if none: work at risk.",
        ).set_function(self._checkpoint_age)
        if device.type == "cuda":
            self._add_gpu_metrics(gauge, device)

    def _checkpoint_age(self) -> float:
        reference = self._last_checkpoint_unix if self._last_checkpoint_unix is not None else self._started_unix
        return max(0.0, self._clock() - reference)

    @staticmethod
    def _add_gpu_metrics(gauge: Callable[..., Any], device: torch.device) -> None:
        def utilization() -> float:
            # torch.cuda.utilization needs NVML (pynvml); without it, report NaN rather than fail the scrape.
            try:
                return torch.cuda.utilization(device) / 100.0
            except Exception:  # noqa: BLE001 - pynvml missing or NVML unavailable in the container
                return math.nan

        gauge("gpu_utilization_ratio", "GPU busy fraction (0-1) over the last NVML sample period.").set_function(
            utilization
        )
        gauge("gpu_memory_used_bytes", "GPU memory held by this process's caching allocator.").set_function(
            lambda: float(torch.cuda.memory_reserved(device))
        )
        total = float(torch.cuda.get_device_properties(device).total_memory)
        gauge("gpu_memory_total_bytes", "Total memory of this process's GPU.").set_function(lambda: total)

    def serve(self, port: int, addr: str) -> None:
        """Start the HTTP endpoint (/metrics) in a daemon thread."""
        self._server, _thread = start_http_server(port, addr=addr, registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def observe_start(self, world_size: int, model_parameters: int, step: int, total_steps: int = 0) -> None:
        self.world_size.set(world_size)
        if total_steps > 0:
            self.total_steps.set(total_steps)
        self.model_parameters.set(model_parameters)
        self.step.set(step)

    def observe_step(
        self, step: int, samples: int, samples_per_second: float, tokens_per_second: float, loss: float
    ) -> None:
        self.step.set(step)
        self.samples.inc(samples)
        self.samples_per_second.set(samples_per_second)
        self.tokens_per_second.set(tokens_per_second)
        self.loss.set(loss)

    def observe_checkpoint(self, step: int, saved_at_unix: float) -> None:
        self.last_checkpoint_step.set(step)
        self._last_checkpoint_unix = saved_at_unix


class NoMetrics:
    """Stands in when FAIRSHARE_METRICS_PORT=0: the loop calls the same methods, which do nothing."""

    def __getattr__(self, _name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None
