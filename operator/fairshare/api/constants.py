"""Names that make up the API contract: group, version, kinds, labels, reserved env names and limits."""

from __future__ import annotations

GROUP = "fairshare.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

KIND_GPU_CLASS = "GPUClass"
KIND_TENANT = "Tenant"
KIND_TRAINING_JOB = "TrainingJob"

PLURAL_GPU_CLASSES = "gpuclasses"
PLURAL_TENANTS = "tenants"
PLURAL_TRAINING_JOBS = "trainingjobs"

SHORT_NAME_GPU_CLASS = "gc"
SHORT_NAME_TENANT = "tn"
SHORT_NAME_TRAINING_JOB = "tj"
CATEGORY = "fairshare"

# The extended resource a GPU node advertises and a worker pod requests (the NVIDIA device plugin's name).
GPU_RESOURCE = "nvidia.com/gpu"

# Labels the operator puts on every child it creates; the k8s layer selects children by them.
LABEL_PREFIX = f"{GROUP}/"
LABEL_JOB = f"{GROUP}/job"
LABEL_TENANT = f"{GROUP}/tenant"
LABEL_GPU_CLASS = f"{GROUP}/gpu-class"
LABEL_RANK = f"{GROUP}/rank"
LABEL_GENERATION = f"{GROUP}/generation"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "fairshare-operator"

# torchrun reads each of its arguments from PET_<ARG> (torch.distributed.argparse_util.env, checked against
# torch 2.9's launcher); the operator owns the job's size and rendezvous, so a user may not set these.
PET_NNODES = "PET_NNODES"
PET_NPROC_PER_NODE = "PET_NPROC_PER_NODE"
PET_NODE_RANK = "PET_NODE_RANK"
PET_MASTER_ADDR = "PET_MASTER_ADDR"
PET_MASTER_PORT = "PET_MASTER_PORT"
# Not set by the operator (torchrun's defaults give static rendezvous), but setting them would break it.
PET_RDZV_BACKEND = "PET_RDZV_BACKEND"
PET_RDZV_ENDPOINT = "PET_RDZV_ENDPOINT"
PET_RDZV_ID = "PET_RDZV_ID"
PET_STANDALONE = "PET_STANDALONE"
TORCHRUN_ENV_NAMES: tuple[str, ...] = (
    PET_NNODES, PET_NPROC_PER_NODE, PET_NODE_RANK, PET_MASTER_ADDR, PET_MASTER_PORT,
    PET_RDZV_BACKEND, PET_RDZV_ENDPOINT, PET_RDZV_ID, PET_STANDALONE,
)
# What torchrun exports to each trainer process; a user value would be overwritten or, worse, believed.
TORCHRUN_CHILD_ENV_NAMES: tuple[str, ...] = (
    "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK",
)
# The one list of reserved env names: the CRD's CEL rules, the pydantic models and render all use it
# (tests/unit/api checks that the CRD spells exactly this list and this prefix).
RESERVED_ENV_NAMES: tuple[str, ...] = TORCHRUN_ENV_NAMES + TORCHRUN_CHILD_ENV_NAMES
RESERVED_ENV_PREFIX = "FAIRSHARE_"
# What the operator tells the trainer (read by trainer_image/fairshare_trainer/config.py).
FAIRSHARE_JOB = "FAIRSHARE_JOB"  # "<namespace>/<name>"
FAIRSHARE_CHECKPOINT_DIR = "FAIRSHARE_CHECKPOINT_DIR"
FAIRSHARE_METRICS_PORT = "FAIRSHARE_METRICS_PORT"  # base port; local rank r serves on base + r
FAIRSHARE_GPU_CLASS = "FAIRSHARE_GPU_CLASS"


def is_reserved_env_name(name: str) -> bool:
    """True when the operator sets this variable itself, so a user may not."""
    return name in RESERVED_ENV_NAMES or name.startswith(RESERVED_ENV_PREFIX)


# Kubernetes reserves namespaces with this prefix for itself (kube-system, kube-public, kube-node-lease); no Tenant
# may claim one (the Tenant CRD's CEL rule and the model refuse it).
SYSTEM_NAMESPACE_PREFIX = "kube-"

# Volumes and mount points the operator adds to every worker pod.
RESERVED_VOLUME_PREFIX = "fairshare-"
TMP_MOUNT_PATH = "/tmp"
SHM_MOUNT_PATH = "/dev/shm"
RESERVED_MOUNT_PATHS: tuple[str, ...] = (TMP_MOUNT_PATH, SHM_MOUNT_PATH)
# Mounting over these would shadow what the runtime provides; never a place for user data.
FORBIDDEN_MOUNT_PREFIXES: tuple[str, ...] = ("/dev/", "/proc", "/sys")
DEFAULT_CHECKPOINT_PATH = "/checkpoint"

# Limits; the CRDs spell the same numbers (checked by tests/unit/api/test_crd_model_agreement.py).
MAX_LABEL_VALUE_LENGTH = 63
WORKER_SUFFIX = "-worker-"
MAX_WORKERS = 1024
MAX_GPUS_PER_WORKER = 16
# A pod's hostname `<job>-worker-<rank>` must be a DNS label (<= 63): 63 - len("-worker-") - len("1023").
MAX_JOB_NAME_LENGTH = MAX_LABEL_VALUE_LENGTH - len(WORKER_SUFFIX) - len(str(MAX_WORKERS - 1))
MAX_PRICE_PER_GPU_HOUR = 1_000_000.0
MAX_PRIORITY = 1000
MIN_PRIORITY = -1000
