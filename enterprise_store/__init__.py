"""Xenon Enterprise (XE): the enterprise store, its services and its REST API (report §4).

Packages: ``store`` (schema, migrations, repositories), ``services`` (plain async Python,
roles and scopes checked here), ``audit`` (hash-chained log), ``api`` (FastAPI, HTTP only),
``client`` (httpx; what the console and the CLI use), ``cli`` (``xenon xe …``). The error
tree shared by all of them is ``enterprise_store._errors``.
"""

__all__: list[str] = []
