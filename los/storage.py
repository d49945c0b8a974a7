"""Where a drop folder lives: a directory on this server or an S3 prefix, both behind Django's storage API.

``/srv/los/exports`` is a FileSystemStorage rooted there; ``s3://bucket/exports`` is django-storages'
S3Storage on that bucket with ``exports`` as its location (credentials from the usual AWS environment:
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or an instance role; ``AWS_S3_ENDPOINT_URL`` for an
S3-compatible store). The sync only lists, reads, saves and deletes through the storage, so any other
Django storage works the same (the tests use InMemoryStorage too).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from django.core.files.storage import FileSystemStorage, Storage


class FolderError(Exception):
    """The folder setting cannot be used (not absolute, not a directory, malformed S3 address)."""


def folder_storage(folder: str) -> Storage:
    folder = folder.strip()
    if folder.startswith("s3://"):
        parts = urlsplit(folder)
        if not parts.netloc:
            raise FolderError("An S3 folder is written s3://bucket/prefix.")
        from storages.backends.s3 import S3Storage  # only deployments with S3 folders need boto3 loaded

        return S3Storage(
            bucket_name=parts.netloc, location=parts.path.strip("/"), default_acl=None, file_overwrite=False
        )
    if not os.path.isabs(folder):
        raise FolderError(f"{folder!r} is not an absolute path (or an s3://bucket/prefix).")
    if not os.path.isdir(folder):
        raise FolderError(f"{folder} is not a directory on this server.")
    return FileSystemStorage(location=folder, base_url=None)
