"""``serve``: the system process as a local service (Starlette on uvicorn). One backbone for many apps;
requests of any adapters are batched into one pass (``runtime/batching.py``). ``config.py`` the settings,
``registry.py`` the apps, their tokens / uids and grants, ``app.py`` the ASGI application, ``peercred.py``
the Unix-socket caller identity, ``metrics.py`` Prometheus metrics, ``openapi.py`` the API spec,
``client.py`` a Python client. Needs ``pip install 'mtpf-deploy[serve]'``."""
