"""Container health check: GET /healthz on this instance; exit 0 when it answers 200 (Dockerfile HEALTHCHECK).

It asks with the first name of ALLOWED_HOSTS, since Django refuses a Host it does not serve."""

import os
import sys
import urllib.request

host = (os.environ.get("ALLOWED_HOSTS") or "localhost").split(",")[0].strip().lstrip(".")
if host in {"", "*"}:
    host = "localhost"
request = urllib.request.Request(f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz", headers={"Host": host})
try:
    with urllib.request.urlopen(request, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy"
    print(f"healthz: {exc}", file=sys.stderr)
    sys.exit(1)
