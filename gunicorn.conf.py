"""gunicorn settings: gevent workers on PORT; one worker on the embedded store (it lives in the process)."""

from app.config import load_settings

_settings = load_settings()

bind = f"0.0.0.0:{_settings['PORT']}"
worker_class = "gevent"
worker_connections = 1000
workers = 1 if _settings["EMBEDDED_STORE"] else _settings["WEB_CONCURRENCY"]
if _settings["EMBEDDED_STORE"] and _settings["WEB_CONCURRENCY"] > 1:
    print("killtoken: WEB_CONCURRENCY ignored on the embedded store (one process holds it); set "
          "KILLTOKEN_MONGODB_URI for more workers", flush=True)
timeout = int(_settings["KILLTOKEN_UPSTREAM_READ_TIMEOUT_SECONDS"]) + 60
# A restart waits for calls in flight (up to the read timeout) so none is cut off untraced after being billed.
graceful_timeout = int(_settings["KILLTOKEN_UPSTREAM_READ_TIMEOUT_SECONDS"]
                       + _settings["KILLTOKEN_UPSTREAM_CONNECT_TIMEOUT_SECONDS"]) + 15
keepalive = 75
accesslog = None
errorlog = "-"


def post_worker_init(worker):  # noqa: ANN001 - gunicorn hook signature
    """Connect the store and apply bootstrap tenants in each worker, after the fork."""
    from pymongo.errors import PyMongoError

    from app.extensions import handles

    try:
        handles(worker.wsgi).db  # noqa: B018 - triggers the connection and bootstrap
    except PyMongoError as exc:  # serve 503 not_ready until it answers; bootstrap runs on the first success
        worker.log.error("MongoDB unreachable at start (%s); answering 503 not_ready until it is", type(exc).__name__)


def worker_exit(server, worker):  # noqa: ANN001 - gunicorn hook signature
    """Hand buffered background work to the broker before the worker goes."""
    dispatcher = getattr(worker, "wsgi", None) and worker.wsgi.extensions.get("killtoken_dispatcher")
    if dispatcher is not None:
        dispatcher.flush()
