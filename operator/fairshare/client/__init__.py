"""The fairshare Python SDK: TrainingJobs from Python through a kubeconfig context, without the Kubernetes client."""

from fairshare.client.errors import ApiError, ClientError, ConfigError, Conflict, Forbidden, NotFound
from fairshare.client.kubeconfig import Connection, load
from fairshare.client.sdk import TERMINAL_PHASES, FairshareClient, InvalidJob

__all__ = ["TERMINAL_PHASES", "ApiError", "ClientError", "ConfigError", "Conflict", "Connection", "FairshareClient",
           "Forbidden", "InvalidJob", "NotFound", "load"]
