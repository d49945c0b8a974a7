"""The JSON command API (``POST /api/bpm/cmd``, DESIGN §7) and its OpenAPI document (``GET /api/schema/``)."""
