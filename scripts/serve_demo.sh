#!/usr/bin/env bash
# Serves the demo on 127.0.0.1:8000 with a django-q2 worker beside it; Ctrl-C stops both.
set -euo pipefail
BIN=${BIN:-.venv/bin}
"$BIN/python" -u manage.py qcluster > qcluster.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null || true' EXIT INT TERM
"$BIN/python" manage.py demo_logins
echo "django-q2 worker running (pid $worker, log: qcluster.log)."
echo "Open http://127.0.0.1:8000 — Ctrl-C stops the server and the worker."
"$BIN/python" manage.py runserver 127.0.0.1:8000 --noreload
