"""The training loop: DDP over the process group, checkpoints at intervals and on stop, a final one at max steps."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from fairshare_trainer import distributed
from fairshare_trainer.config import TrainerConfig
from fairshare_trainer.data import VOCAB_SIZE, SampleOrder, corpus_tokens, first_sample_of_rank
from fairshare_trainer.log import emit, write_termination_message
from fairshare_trainer.metrics import NoMetrics, ThroughputSmoother, TrainerMetrics
from fairshare_trainer.model import DecoderLM, ModelShape, next_token_loss, parameter_count, shape_for
from fairshare_trainer.placement import Placement
from fairshare_trainer.resume import Checkpointer, Progress, checkpoint_state, resume_latest
from fairshare_trainer.signals import StopRequest

# Steady-state throughput (for benchmarks) leaves out the first steps: allocator warm-up, first collectives.
STEADY_FROM_STEP = 5


def learning_rate_at(step: int, config: TrainerConfig) -> float:
    """Linear warm-up to the configured rate, then constant: a resume at any step needs no schedule state."""
    if config.warmup_steps and step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    return config.learning_rate


@dataclass
class TrainingRun:
    """One process's share of a job, from resume to stop or max_steps."""

    config: TrainerConfig
    placement: Placement
    device: torch.device
    stop: StopRequest
    shape: ModelShape
    model: DecoderLM
    ddp_model: DistributedDataParallel
    optimizer: torch.optim.Optimizer
    order: SampleOrder
    progress: Progress
    metrics: Any
    checkpointer: Checkpointer = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.checkpointer = Checkpointer(self.config, self.placement, self.metrics.observe_checkpoint)

    @property
    def global_batch(self) -> int:
        return self.config.batch_size * self.placement.world_size

    def _state(self, saved_at_unix: float) -> dict[str, Any]:
        return checkpoint_state(
            self.model, self.optimizer, self.progress, self.shape, self.config, self.placement, self.device,
            saved_at_unix,
        )  # fmt: skip

    def _train_step(self) -> torch.Tensor:
        """Forward, backward and update on this rank's slice of the next global batch; returns the local loss."""
        first = first_sample_of_rank(self.progress.samples_seen, self.config.batch_size, self.placement.rank)
        inputs, targets = (
            t.to(self.device, non_blocking=True) for t in self.order.batch(first, self.config.batch_size)
        )
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate_at(self.progress.step, self.config)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            loss = next_token_loss(self.ddp_model(inputs), targets)
        loss.backward()  # DDP all-reduces (averages) the gradients here
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss

    def loop(self) -> int:
        """Train until max_steps (final checkpoint) or until any rank is asked to stop (checkpoint); exit 0."""
        config, progress, is_leader = self.config, self.progress, self.placement.is_leader
        smoother = ThroughputSmoother()
        loop_started = last_step_end = steady_started = time.monotonic()
        steady_cpu_started = time.process_time()
        steps_this_run = 0
        slowdown = 1.0 / config.speed_factor() - 1.0  # emulated heterogeneity: extra time per unit of real time
        while not (config.max_steps and progress.step >= config.max_steps):
            step_started = time.monotonic()
            loss = self._train_step()
            if slowdown > 0:
                time.sleep((time.monotonic() - step_started) * slowdown)
            agreement = distributed.agree_after_step(
                self.stop.requested, is_leader and self.checkpointer.timer_fired(), loss
            )
            progress.step += 1
            progress.samples_seen += self.global_batch
            steps_this_run += 1
            now = time.monotonic()
            if steps_this_run == STEADY_FROM_STEP:
                steady_started, steady_cpu_started = now, time.process_time()
            samples_per_second = smoother.update(self.global_batch, now - last_step_end)
            last_step_end = now
            self.metrics.observe_step(
                progress.step, self.global_batch, samples_per_second, samples_per_second * self.shape.seq_len,
                agreement.mean_loss,
            )  # fmt: skip
            if is_leader and (progress.step % config.log_every_steps == 0 or progress.step == 1):
                emit(
                    "step",
                    step=progress.step,
                    samples_seen=progress.samples_seen,
                    loss=round(agreement.mean_loss, 4),
                    samples_per_second=round(samples_per_second, 2),
                    lr=learning_rate_at(progress.step - 1, config),
                )
            if agreement.stop:
                self.checkpointer.save(progress, "stop", self._state)
                emit(
                    "stopped",
                    rank=self.placement.rank,
                    step=progress.step,
                    samples_seen=progress.samples_seen,
                    signal=self.stop.signal_name or "peer",
                    last_checkpoint_step=progress.last_checkpoint_step,
                )
                self._leave_termination_message("stopped")
                return 0
            if self.checkpointer.step_due(progress.step) or agreement.checkpoint_due:
                self.checkpointer.save(progress, "timer" if agreement.checkpoint_due else "interval", self._state)

        loop_ended, cpu_ended = time.monotonic(), time.process_time()
        steady_steps = steps_this_run - STEADY_FROM_STEP
        steady_rate = steady_steps * self.global_batch / (loop_ended - steady_started) if steady_steps > 0 else None
        self.checkpointer.save(progress, "finished", self._state)
        emit(
            "finished",
            rank=self.placement.rank,
            step=progress.step,
            samples_seen=progress.samples_seen,
            steps_this_run=steps_this_run,
            seconds=round(loop_ended - loop_started, 3),
            steady_samples_per_second=steady_rate,
            steady_tokens_per_second=steady_rate and steady_rate * self.shape.seq_len,
            # CPU time of this process over the same window: on a shared machine, samples per CPU-second
            # measure the trainer's own cost where wall-clock rates mostly measure the neighbours.
            steady_samples=max(0, steady_steps) * self.global_batch,
            steady_cpu_seconds=round(cpu_ended - steady_cpu_started, 4),
            parameters=parameter_count(self.model),
            last_checkpoint_step=progress.last_checkpoint_step,
        )
        self._leave_termination_message("finished")
        return 0

    def _leave_termination_message(self, outcome: str) -> None:
        # One writer per pod (each pod has its own /dev/termination-log): the node's first process.
        if self.placement.local_rank == 0:
            write_termination_message(
                self.config.termination_log,
                outcome=outcome,
                step=self.progress.step,
                samples_seen=self.progress.samples_seen,
                last_checkpoint_step=self.progress.last_checkpoint_step,
            )


def run(config: TrainerConfig, placement: Placement, stop: StopRequest) -> int:
    """Set up the process group, model, optimizer, data and metrics; resume if a checkpoint exists; train."""
    device = distributed.choose_device(config.device, placement)
    distributed.init_process_group(placement, device)
    metrics: Any = NoMetrics()
    try:
        torch.manual_seed(config.seed)  # identical initial weights everywhere; DDP also broadcasts rank 0's
        shape = shape_for(config.model_size, VOCAB_SIZE)
        model = DecoderLM(shape).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=(0.9, 0.95), weight_decay=0.1)
        resumed = resume_latest(model, optimizer, shape, config, placement, device)
        progress = Progress()
        if resumed is not None:
            progress = Progress(resumed.step, resumed.samples_seen, last_checkpoint_step=resumed.step)
            emit("resumed", rank=placement.rank, world_size=placement.world_size, **dataclasses.asdict(resumed))
        if config.metrics_port:
            metrics = TrainerMetrics(config.job, config.gpu_class, placement.rank, device)
            metrics.serve(config.metrics_port + placement.local_rank, config.metrics_addr)
        metrics.observe_start(placement.world_size, parameter_count(model), progress.step, config.max_steps)
        if resumed is not None:
            metrics.observe_checkpoint(resumed.step, resumed.saved_at_unix)
        emit(
            "started",
            rank=placement.rank,
            local_rank=placement.local_rank,
            world_size=placement.world_size,
            device=str(device),
            backend=torch.distributed.get_backend(),
            model_size=config.model_size,
            parameters=parameter_count(model),
            seq_len=shape.seq_len,
            batch_size=config.batch_size,
            global_batch_size=config.batch_size * placement.world_size,
            step=progress.step,
            samples_seen=progress.samples_seen,
            metrics_port=config.metrics_port + placement.local_rank if config.metrics_port else 0,
        )
        training = TrainingRun(
            config=config,
            placement=placement,
            device=device,
            stop=stop,
            shape=shape,
            model=model,
            ddp_model=DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None),
            optimizer=optimizer,
            order=SampleOrder(corpus_tokens(), shape.seq_len, resumed.seed if resumed else config.seed),
            progress=progress,
            metrics=metrics,
        )
        return training.loop()
    finally:
        metrics.close()
        distributed.destroy_process_group()
