"""Tell the fairshare operator how your own training script is doing: samples/s, step, total steps, loss.

Copy this one file next to your script (or put trainer_image/ on PYTHONPATH); it needs only prometheus-client.
torch and transformers are imported only by the parts that use them. The contract it fulfils is in
docs/trainer-contract.md. Plain PyTorch:

    from fairshare_report import Reporter, stop_requested

    report = Reporter(total_steps=args.steps)          # serves /metrics on $FAIRSHARE_METRICS_PORT + LOCAL_RANK
    for step in range(start, args.steps):
        loss = train_one_step(batch)
        report.step(step + 1, samples=batch_size * world_size, loss=loss)   # samples: the whole job's, this step
        if stop_requested():                           # SIGTERM: preempted, resized or moved
            save_checkpoint(step + 1); report.checkpoint(step + 1); break

Hugging Face Trainer: `Trainer(..., callbacks=[FairshareCallback()])` (see `FairshareCallback`).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

PREFIX = "fairshare_trainer"
# The labels the operator matches a series to its job by; constant per process, never per step.
LABELS = ("trainingjob", "gpu_class", "rank")
DEFAULT_METRICS_PORT = 8000
SMOOTHING_SECONDS = 5.0

_stop = threading.Event()
_handlers_installed = threading.Event()


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    _stop.set()


def install_signal_handlers() -> None:
    """Turn SIGTERM and SIGINT into a request to stop (stop_requested) instead of an exit mid-step. Reporter()
    calls it; call it yourself, early, if you do not use a Reporter. Only the main thread can install them."""
    if _handlers_installed.is_set() or threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _on_signal)
    _handlers_installed.set()


def stop_requested() -> bool:
    """True once this process got SIGTERM or SIGINT.

    torchrun forwards the kubelet's SIGTERM to every worker and kills them 30 s later: finish the step, save a
    checkpoint to $FAIRSHARE_CHECKPOINT_DIR, and exit 0 within that time.
    """
    install_signal_handlers()
    return _stop.is_set()


def _number(value: Any) -> float:
    """A float from a float, an int or a one-element tensor (`.item()`), without importing torch."""
    return float(value.item() if hasattr(value, "item") else value)


class Reporter:
    """The trainer metrics the operator reads, for one process; every value is job-wide, the same on every rank.

    Arguments default to what the operator sets: FAIRSHARE_JOB (the `trainingjob` label), FAIRSHARE_GPU_CLASS,
    FAIRSHARE_METRICS_PORT (0 turns the server off) plus LOCAL_RANK, and torchrun's RANK and WORLD_SIZE.
    """

    def __init__(self, total_steps: int | None = None, *, port: int | None = None, addr: str = "0.0.0.0",
                 environ: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, serve: bool = True) -> None:
        install_signal_handlers()
        env = os.environ if environ is None else environ
        self.rank = int(env.get("RANK", "0"))
        base = int(env.get("FAIRSHARE_METRICS_PORT", str(DEFAULT_METRICS_PORT))) if port is None else port
        self.port = base + int(env.get("LOCAL_RANK", "0")) if base else 0
        self._clock, self._wall_clock = clock, wall_clock
        self._last: tuple[float, float] | None = None  # (monotonic time, step) of the previous report
        self._rate: float | None = None
        self._checkpoint_at: float | None = None
        self._started_at = wall_clock()
        self.registry = CollectorRegistry(auto_describe=True)
        labels = {"trainingjob": env.get("FAIRSHARE_JOB", ""), "gpu_class": env.get("FAIRSHARE_GPU_CLASS", ""),
                  "rank": str(self.rank)}

        def gauge(name: str, documentation: str) -> Any:
            return Gauge(f"{PREFIX}_{name}", documentation, LABELS, registry=self.registry).labels(**labels)

        self._step = gauge("step", "Optimizer steps completed by the job, including those before a resume.")
        self._total = gauge("total_steps", "Optimizer steps the job will run in all; 0 if unknown.")
        self._samples_per_second = gauge("samples_per_second", "Job-wide training samples per second, smoothed.")
        self._loss = gauge("loss", "Training loss of the last reported step.")
        self._world = gauge("world_size", "Number of processes (ranks) in the job.")
        self._checkpoint_step = gauge("last_checkpoint_step", "Step of the newest checkpoint; -1 if none.")
        self._samples = Counter(f"{PREFIX}_samples", "Training samples the job processed since this process started.",
                                LABELS, registry=self.registry).labels(**labels)
        gauge("checkpoint_age_seconds", "Seconds since the newest checkpoint (or the start): work at risk."
              ).set_function(self._checkpoint_age)
        self._world.set(int(env.get("WORLD_SIZE", "1")))
        self._checkpoint_step.set(-1)
        self._loss.set(math.nan)
        self.total_steps(total_steps)
        self._server: Any = None
        if serve and self.port:
            self._server, _thread = start_http_server(self.port, addr=addr, registry=self.registry)

    def total_steps(self, total: int | None) -> None:
        """How many steps the job runs in all (resumed ones included): the operator's progress and ETA."""
        self._total.set(total if total and total > 0 else 0)

    def step(self, step: int, samples: float, loss: Any = None) -> None:
        """Report a completed optimizer step: `step` counts from the job's start (a resumed job continues its
        count), `samples` is what the whole job processed in the steps since the last report (per-rank batch x
        world size x accumulation), `loss` a float or a one-element tensor."""
        now = self._clock()
        self._step.set(step)
        self._samples.inc(samples)
        if loss is not None:
            self._loss.set(_number(loss))
        if self._last is not None and now > self._last[0]:
            elapsed = now - self._last[0]
            instantaneous = samples / elapsed
            weight = 1.0 - math.exp(-elapsed / SMOOTHING_SECONDS)
            self._rate = instantaneous if self._rate is None else self._rate + weight * (instantaneous - self._rate)
            self._samples_per_second.set(self._rate)
        self._last = (now, step)

    def checkpoint(self, step: int) -> None:
        """Report that a checkpoint of `step` was written (or resumed from): preemption prefers the jobs that lose
        the least work since their last checkpoint."""
        self._checkpoint_step.set(step)
        self._checkpoint_at = self._wall_clock()

    def _checkpoint_age(self) -> float:
        since = self._checkpoint_at if self._checkpoint_at is not None else self._started_at
        return max(0.0, self._wall_clock() - since)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _HuggingFaceProgress:
    """What FairshareCallback does, on the attributes of transformers' TrainingArguments and TrainerState."""

    def __init__(self, reporter: Reporter | None) -> None:
        self._reporter = reporter

    def reporter(self) -> Reporter:
        if self._reporter is None:
            self._reporter = Reporter()
        return self._reporter

    def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        report = self.reporter()
        report.total_steps(state.max_steps)
        report._world.set(max(1, args.world_size))
        report.step(state.global_step, samples=0)

    def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        samples = args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
        self.reporter().step(state.global_step, samples=samples)
        if stop_requested():  # save now and stop: the Trainer writes the checkpoint to args.output_dir
            control.should_save = True
            control.should_training_stop = True

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **_: Any) -> None:
        if logs and "loss" in logs:
            self.reporter()._loss.set(_number(logs["loss"]))

    def on_save(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self.reporter().checkpoint(state.global_step)


def __getattr__(name: str) -> Any:
    """`FairshareCallback`, a transformers.TrainerCallback, built on first use so that importing this module never
    imports transformers."""
    if name != "FairshareCallback":
        raise AttributeError(name)
    from transformers import TrainerCallback

    class FairshareCallback(_HuggingFaceProgress, TrainerCallback):  # type: ignore[misc]
        """Reports a Hugging Face Trainer's steps, max_steps, samples/s, loss and saves; on SIGTERM it saves a
        checkpoint and stops. Set output_dir to $FAIRSHARE_CHECKPOINT_DIR and resume_from_checkpoint when one
        is there."""

        def __init__(self, reporter: Reporter | None = None) -> None:
            _HuggingFaceProgress.__init__(self, reporter)

    globals()["FairshareCallback"] = FairshareCallback
    return FairshareCallback
