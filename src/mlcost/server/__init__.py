"""``mlcost serve``: the REST API (``/api/v1``), Prometheus ``/metrics`` and the dashboard.

- :mod:`~mlcost.server.app`: :func:`~mlcost.server.app.create_app`;
- :mod:`~mlcost.server.auth`: API tokens (hashed), scopes and the request's ``Principal``;
- :mod:`~mlcost.server.api`: the REST routes over the library functions;
- :mod:`~mlcost.server.metrics`: the Prometheus collector, run on every scrape.

Needs the ``server`` extra (``pip install 'mlcost[server]'``). See docs/server.md.
"""
