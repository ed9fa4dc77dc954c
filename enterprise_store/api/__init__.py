"""The XE REST API (FastAPI): HTTP only; services do the work, ``schemas`` are the models."""

from enterprise_store.api._app import API_VERSION, create_app
from enterprise_store.api._errors import STATUS, problem, status_of
from enterprise_store.api._metrics import Metrics
from enterprise_store.api._server import bind, serve, server_tls_context, url_for

__all__ = [
    "API_VERSION",
    "STATUS",
    "Metrics",
    "bind",
    "create_app",
    "problem",
    "serve",
    "server_tls_context",
    "status_of",
    "url_for",
]
