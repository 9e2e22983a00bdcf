"""Configuration: env and flags merge with flags winning, and every bad value fails naming its variable."""

from __future__ import annotations

import sys

import pytest

from tests.trainer.processes import REPO_ROOT, trainer_env


@pytest.mark.parametrize(
    ("environ", "argv", "local_rank", "named"),
    [
        pytest.param({"FAIRSHARE_BATCH_SIZE": "-4"}, [], 0, "FAIRSHARE_BATCH_SIZE", id="negative batch size"),
        pytest.param({"FAIRSHARE_BATCH_SIZE": "0"}, [], 0, "FAIRSHARE_BATCH_SIZE", id="zero batch size"),
        pytest.param({"FAIRSHARE_BATCH_SIZE": "eight"}, [], 0, "FAIRSHARE_BATCH_SIZE", id="batch size not a number"),
        pytest.param({}, ["--batch-size", "-1"], 0, "--batch-size", id="negative batch size by flag"),
        pytest.param({"FAIRSHARE_MODEL_SIZE": "huge"}, [], 0, "FAIRSHARE_MODEL_SIZE", id="unknown model size"),
        pytest.param({"FAIRSHARE_MAX_STEPS": "-5"}, [], 0, "FAIRSHARE_MAX_STEPS", id="negative max steps"),
        pytest.param({"FAIRSHARE_METRICS_PORT": "70000"}, [], 0, "FAIRSHARE_METRICS_PORT", id="port out of range"),
        pytest.param({"FAIRSHARE_METRICS_PORT": "65535"}, [], 1, "LOCAL_RANK", id="port plus local rank too big"),
        pytest.param({"FAIRSHARE_JOB": "no-namespace"}, [], 0, "FAIRSHARE_JOB", id="job without namespace"),
        pytest.param({"FAIRSHARE_JOB": "Team/Job"}, [], 0, "FAIRSHARE_JOB", id="job not DNS-1123"),
        pytest.param({"FAIRSHARE_SEED": "-1"}, [], 0, "FAIRSHARE_SEED", id="negative seed"),
        pytest.param({"FAIRSHARE_LEARNING_RATE": "0"}, [], 0, "FAIRSHARE_LEARNING_RATE", id="zero learning rate"),
        pytest.param({"FAIRSHARE_LEARNING_RATE": "nan"}, [], 0, "FAIRSHARE_LEARNING_RATE", id="NaN learning rate"),
        pytest.param(
            {"FAIRSHARE_CHECKPOINT_EVERY_STEPS": "-1"},
            [],
            0,
            "FAIRSHARE_CHECKPOINT_EVERY_STEPS",
            id="negative checkpoint interval",
        ),
        pytest.param({"FAIRSHARE_DEVICE": "tpu"}, [], 0, "FAIRSHARE_DEVICE", id="unknown device"),
        pytest.param({}, ["--emulated-class-speed", "l4=0"], 0, "--emulated-class-speed", id="zero class speed"),
        pytest.param({}, ["--emulated-class-speed", "l4=2"], 0, "--emulated-class-speed", id="class speed above 1"),
        pytest.param({}, ["--emulated-class-speed", "l4"], 0, "--emulated-class-speed", id="class without speed"),
    ],
)
def test_invalid_setting_is_refused_naming_its_variable(environ, argv, local_rank, named):
    from fairshare_trainer.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=named):
        load_config(argv, environ, local_rank=local_rank)


def test_flags_override_environment_which_overrides_defaults():
    from fairshare_trainer.config import TrainerConfig, load_config

    config = load_config(
        ["--batch-size", "3", "--model-size", "SMALL"],
        {
            "FAIRSHARE_BATCH_SIZE": "7",
            "FAIRSHARE_MAX_STEPS": "42",
            "FAIRSHARE_JOB": "team-a/bert-7",
            "FAIRSHARE_METRICS_PORT": " ",
            "FAIRSHARE_CHECKPOINT_DIR": "/ckpt",
        },
    )

    assert config == TrainerConfig(
        batch_size=3, model_size="small", max_steps=42, job="team-a/bert-7", checkpoint_dir="/ckpt"
    )


@pytest.mark.parametrize(
    ("environ", "want", "named"),
    [
        pytest.param({}, (0, 1, 0), None, id="no torchrun variables: standalone"),
        pytest.param(
            {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "1"},
            (1, 2, 1),
            None,
            id="torchrun worker",
        ),
        pytest.param(
            {"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "h", "MASTER_PORT": "1"},
            None,
            "RANK",
            id="rank beyond world",
        ),
        pytest.param({"RANK": "0"}, None, "WORLD_SIZE", id="partial torchrun variables"),
        pytest.param(
            {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, None, "MASTER_ADDR", id="no rendezvous address"
        ),
        pytest.param({"RANK": "x", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}, None, "RANK", id="rank not a number"),
    ],
)
def test_placement_from_torchrun_variables(environ, want, named):
    from fairshare_trainer.config import ConfigError
    from fairshare_trainer.placement import Placement, placement_from_env

    if named is None:
        assert placement_from_env(environ) == Placement(*want)
    else:
        with pytest.raises(ConfigError, match=named):
            placement_from_env(environ)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("environ", "named"),
    [
        pytest.param({"FAIRSHARE_BATCH_SIZE": "-1"}, "FAIRSHARE_BATCH_SIZE", id="negative batch size"),
        pytest.param({"FAIRSHARE_MODEL_SIZE": "gigantic"}, "FAIRSHARE_MODEL_SIZE", id="unknown model size"),
    ],
)
def test_trainer_process_fails_fast_on_bad_config(environ, named):
    import subprocess

    completed = subprocess.run(
        [sys.executable, "-m", "fairshare_trainer"],
        env=trainer_env(environ),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert completed.returncode == 2, completed.stderr
    assert named in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    ("raw", "gpu_class", "factor"),
    [
        pytest.param("a100=1, l4=0.25", "l4", 0.25, id="listed class"),
        pytest.param("a100=1,l4=0.25", "h100", 1.0, id="unlisted class runs at full speed"),
        pytest.param("", "l4", 1.0, id="no emulation"),
    ],
)
def test_emulated_class_speed_applies_to_the_class_the_job_runs_on(raw, gpu_class, factor):
    from fairshare_trainer.config import load_config

    config = load_config(["--emulated-class-speed", raw], {"FAIRSHARE_GPU_CLASS": gpu_class})
    assert config.speed_factor() == factor
