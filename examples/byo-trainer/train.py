"""A training script as a user would write it: plain PyTorch DDP, run by torchrun, reporting with fairshare_report.

It fits a small MLP to a fixed random teacher, so it needs no data download. What makes it a good citizen of a
fairshare cluster (docs/trainer-contract.md):
- it resumes from $FAIRSHARE_CHECKPOINT_DIR and counts steps from the job's start, across restarts;
- on SIGTERM every rank finishes the step, rank 0 writes a checkpoint (atomically), and all exit 0;
- it reports samples/s, step, total steps and loss on $FAIRSHARE_METRICS_PORT + LOCAL_RANK.

    torchrun --nproc-per-node=2 train.py --steps 2000
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from fairshare_report import Reporter, stop_requested
from torch import nn

CHECKPOINT = "checkpoint.pt"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps in all (the job's total)")
    parser.add_argument("--batch-size", type=int, default=32, help="samples per rank per step")
    parser.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    parser.add_argument("--min-step-seconds", type=float, default=0.0,
                        help="pace the loop to at least this long a step (for demos on tiny hardware)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    report = Reporter(total_steps=args.steps)  # serves /metrics and turns SIGTERM into stop_requested()
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if cuda else "cpu")
    torch.manual_seed(0)  # the same teacher and initial model on every rank
    teacher = nn.Linear(64, 8).to(device)
    model = nn.parallel.DistributedDataParallel(
        nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 8)).to(device))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    # FAIRSHARE_CHECKPOINT_DIR is durable (spec.checkpoint) or at least writable; never write elsewhere: the root
    # filesystem is read-only.
    checkpoint_dir = Path(os.environ.get("FAIRSHARE_CHECKPOINT_DIR", "checkpoints"))
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    path = checkpoint_dir / CHECKPOINT
    step = 0
    if path.exists():
        state = torch.load(path, map_location=device)
        model.module.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        report.checkpoint(step)
        if rank == 0:
            print(f"resumed from step {step}", flush=True)

    def save() -> None:
        if rank == 0:  # write then rename: a kill mid-write never leaves a torn checkpoint behind
            tmp = path.with_suffix(".tmp")
            torch.save({"model": model.module.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, tmp)
            os.replace(tmp, path)
        dist.barrier()
        report.checkpoint(step)

    generator = torch.Generator().manual_seed(1000 + rank)
    while step < args.steps:
        started = time.monotonic()
        inputs = torch.randn(args.batch_size, 64, generator=generator).to(device)
        with torch.no_grad():
            targets = teacher(inputs)
        loss = nn.functional.mse_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        time.sleep(max(0.0, args.min_step_seconds - (time.monotonic() - started)))
        # Every rank must agree to stop at the same step, or the others hang in the next all-reduce.
        stop = torch.tensor([1.0 if stop_requested() else 0.0], device=device)
        dist.all_reduce(stop)
        report.step(step, samples=args.batch_size * world, loss=loss.detach())
        if stop.item() > 0:
            save()
            if rank == 0:
                print(f"stopped at step {step} after a checkpoint", flush=True)
            break
        if step % args.checkpoint_every == 0:
            save()
    else:
        save()
        if rank == 0:
            print(f"finished {step} steps", flush=True)
    dist.destroy_process_group()
    report.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
