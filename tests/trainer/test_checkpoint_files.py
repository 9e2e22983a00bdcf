"""Checkpoint files: atomic replacement, newest-readable discovery, pruning; no training needed."""

from __future__ import annotations

import torch


def test_saves_are_found_newest_first_and_pruned_to_the_kept_count(tmp_path):
    from fairshare_trainer.checkpoint import list_checkpoints, load_latest_checkpoint, save_checkpoint

    for step in (5, 10, 15):
        save_checkpoint(tmp_path, step, {"step": step, "weights": torch.full((2,), float(step))}, keep=2)

    assert [step for step, _ in list_checkpoints(tmp_path)] == [10, 15]
    path, state = load_latest_checkpoint(tmp_path)
    assert path.name == "checkpoint-00000015.pt"
    assert state["step"] == 15 and torch.equal(state["weights"], torch.tensor([15.0, 15.0]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-00000010.pt", "checkpoint-00000015.pt"]


def test_a_torn_temporary_file_is_never_taken_for_a_checkpoint(tmp_path):
    from fairshare_trainer.checkpoint import load_latest_checkpoint, save_checkpoint

    save_checkpoint(tmp_path, 7, {"step": 7}, keep=2)
    (tmp_path / ".checkpoint-00000009.pt.abc123.tmp").write_bytes(b"half a checkpoint")

    path, state = load_latest_checkpoint(tmp_path)

    assert (path.name, state["step"]) == ("checkpoint-00000007.pt", 7)


def test_an_unreadable_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    from fairshare_trainer.checkpoint import checkpoint_path, load_latest_checkpoint, save_checkpoint

    save_checkpoint(tmp_path, 7, {"step": 7}, keep=3)
    checkpoint_path(tmp_path, 8).write_bytes(b"not a torch file")

    _, state = load_latest_checkpoint(tmp_path)

    assert state["step"] == 7
    assert "checkpoint_unreadable" in capsys.readouterr().out


def test_no_directory_means_no_checkpoint(tmp_path):
    from fairshare_trainer.checkpoint import load_latest_checkpoint

    assert load_latest_checkpoint(tmp_path / "absent") is None
