"""The XE REST API (FastAPI): HTTP only; services do the work, ``schemas`` are the models."""

from enterprise_store.api._app import API_VERSION, create_app
from enterprise_store.api._errors import STATUS, problem, status_of
from enterprise_store.api._metrics import Metrics

__all__ = ["API_VERSION", "STATUS", "Metrics", "create_app", "problem", "status_of"]
