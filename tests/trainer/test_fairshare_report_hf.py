"""fairshare_report's Hugging Face callback on a real transformers Trainer: it reports steps, max_steps, samples/s,
loss and saves, and on SIGTERM it saves a checkpoint and stops the Trainer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from fairshare.feedback.readings import Target, rank_zero_values, reading_from_values
from tests.trainer.processes import trainer_env

SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import torch
    from torch import nn
    from prometheus_client import generate_latest
    from transformers import Trainer, TrainingArguments
    import fairshare_report

    class Regressor(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(4, 1)

        def forward(self, x, labels=None):
            out = self.layer(x)
            return {"loss": nn.functional.mse_loss(out, labels), "logits": out}

    class Data(torch.utils.data.Dataset):
        def __len__(self):
            return 256

        def __getitem__(self, i):
            if i == STOP_AT_SAMPLE:  # the kubelet's SIGTERM, as torchrun forwards it, mid-training
                os.kill(os.getpid(), signal.SIGTERM)
            x = torch.randn(4, generator=torch.Generator().manual_seed(i))
            return {"x": x, "labels": x.sum(dim=0, keepdim=True)}

    STOP_AT_SAMPLE = int(sys.argv[2])
    report = fairshare_report.Reporter(serve=False)
    args = TrainingArguments(output_dir=sys.argv[1], max_steps=40, per_device_train_batch_size=4, report_to=[],
                             save_steps=10, logging_steps=2, use_cpu=True, dataloader_num_workers=0)
    Trainer(model=Regressor(), args=args, train_dataset=Data(),
            callbacks=[fairshare_report.FairshareCallback(report)]).train()
    with open(os.path.join(sys.argv[1], "metrics.txt"), "w") as out:  # the Trainer logs to stdout itself
        out.write(generate_latest(report.registry).decode())
""")
ENV = {"FAIRSHARE_JOB": "team-a/hf", "FAIRSHARE_GPU_CLASS": "l4", "FAIRSHARE_METRICS_PORT": "0",
       "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def run(tmp_path: Path, stop_at_sample: int) -> tuple[dict[str, tuple[float, dict[str, str]]], list[str]]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "out"), str(stop_at_sample)],
                          env=trainer_env({**ENV, "HOME": str(tmp_path)}), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = sorted(p.name for p in (tmp_path / "out").glob("checkpoint-*"))
    return rank_zero_values((tmp_path / "out" / "metrics.txt").read_text()), saved


def test_a_trainer_run_reports_what_the_operator_reads(tmp_path: Path) -> None:
    values, saved = run(tmp_path, stop_at_sample=-1)
    reading = reading_from_values(Target("team-a/hf", 0, "l4", 1, 0.0, None), values, observed_at=1.0)
    assert reading is not None and reading.samples_per_second > 0
    assert (reading.step, reading.total_steps, reading.last_checkpoint_step, reading.gpu_class) == (
        40.0, 40.0, 40.0, "l4")
    assert saved == ["checkpoint-10", "checkpoint-20", "checkpoint-30", "checkpoint-40"]


def test_sigterm_saves_a_checkpoint_and_stops_the_trainer(tmp_path: Path) -> None:
    values, saved = run(tmp_path, stop_at_sample=57)  # the Trainer shuffles: some step before the last loads it
    step = int(values["fairshare_trainer_step"][0])
    assert 1 <= step < 40, step
    assert values["fairshare_trainer_last_checkpoint_step"][0] == step
    assert set(saved) == {f"checkpoint-{s}" for s in (*range(10, step, 10), step)}
