"""gunicorn settings for the web tier (``scripts/web``); every value comes from the environment (.env.example)."""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


wsgi_app = "refiapp.wsgi:application"
# Where to listen: WEB_BIND wins (e.g. unix:/run/refiapp.sock), else all interfaces on PORT.
bind = [os.environ.get("WEB_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"]
# Sync workers: the app is CPU- and database-bound; 2 x cores + 1 is gunicorn's rule of thumb.
workers = _int("WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1)
threads = _int("WEB_THREADS", 1)
# A 50 MB LOS export is parsed during its preview request, so allow two minutes before a worker is recycled.
timeout = _int("WEB_TIMEOUT", 120)
graceful_timeout = _int("WEB_GRACEFUL_TIMEOUT", 30)
keepalive = _int("WEB_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak never grows without bound.
max_requests = _int("WEB_MAX_REQUESTS", 2000)
max_requests_jitter = _int("WEB_MAX_REQUESTS_JITTER", 200)
# Trust X-Forwarded-* only from the proxy in front (BEHIND_TLS_PROXY=1 makes Django read X-Forwarded-Proto).
forwarded_allow_ips = os.environ.get("WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Logs to stdout/stderr for the process manager; one access line per request with its duration in ms.
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# The heartbeat file on tmpfs: a slow disk must not make the arbiter think a worker hung.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No runtime control socket: one per host in $HOME would collide between instances.
control_socket_disable = True
