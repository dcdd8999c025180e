"""Moved to tests/support/services.py; kept so that branches written before the move import."""

from tests.support.services import *  # noqa: F403
from tests.support.services import RunningService as RunningService
from tests.support.services import RunningTelemetry as RunningTelemetry
from tests.support.services import run_service as run_service
from tests.support.services import run_telemetry as run_telemetry
from tests.support.services import service_env as service_env
