"""Production mode serves every page with its static files (issue 16, finding 1).

collectstatic runs with whitenoise's manifest storage into a temporary STATIC_ROOT, exactly as
``scripts/release`` does; then pages are rendered with DEBUG off and every ``/static/`` URL they reference is
fetched through whitenoise. Today's failure mode: the vendored Chart.js named a source map that is not shipped,
collectstatic stopped with MissingFileError, and every page was a 500 ("Missing staticfiles manifest entry").
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from tests.factories import OpportunityFactory

MANIFEST = "whitenoise.storage.CompressedManifestStaticFilesStorage"
STATIC_REF = re.compile(r"""(?:src|href)=["'](/static/[^"'?#]+)""")


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("staticfiles")
    with production_static(root):
        call_command("collectstatic", interactive=False, verbosity=0)
    return root


def production_static(root):  # type: ignore[no-untyped-def]
    return override_settings(
        DEBUG=False,
        STATIC_ROOT=root,
        STATIC_URL="/static/",
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": MANIFEST},
        },
        WHITENOISE_AUTOREFRESH=False,
        WHITENOISE_USE_FINDERS=False,
    )


def static_urls(html: str) -> set[str]:
    return set(STATIC_REF.findall(html))


def assert_page_and_its_static_files_answer(client: Client, url: str) -> set[str]:
    response = client.get(url, secure=True)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    html = response.content.decode()
    urls = static_urls(html)
    assert urls, f"{url} references no static file"
    for static_url in urls:
        # Hashed names prove the manifest was used, not the development storage.
        assert re.search(r"\.[0-9a-f]{12}\.(css|js|svg|ico|png)$", static_url), static_url
        served = client.get(static_url, secure=True)
        assert served.status_code == 200, f"{static_url} on {url} answered {served.status_code}"
        body = b"".join(served.streaming_content) if served.streaming else served.content
        assert body, static_url
    return urls


def test_collectstatic_names_no_missing_file_and_keeps_no_source_map_reference(static_root):
    collected = {p.name for p in static_root.rglob("*") if p.is_file()}
    assert "staticfiles.json" in collected
    assert not any(name.endswith(".map") for name in collected)
    for path in static_root.rglob("*.js"):
        assert "sourceMappingURL" not in path.read_text(errors="replace"), path


@pytest.mark.django_db
def test_login_and_admin_login_answer_200_with_every_static_file(static_root):
    with production_static(static_root):
        client = Client()  # a new handler: whitenoise reads the STATIC_ROOT above when it starts
        login = assert_page_and_its_static_files_answer(client, "/accounts/login/")
        assert any("/static/css/app." in url for url in login)
        admin = assert_page_and_its_static_files_answer(client, "/admin/login/")
        assert any("/static/admin/css/" in url for url in admin)


@pytest.mark.django_db
def test_signed_in_pages_with_charts_answer_200_with_every_static_file(static_root, officer):
    opportunity = OpportunityFactory(loan__loan_officer=officer)
    with production_static(static_root):
        client = Client()
        client.force_login(officer.user)
        assert_page_and_its_static_files_answer(client, "/board/")
        detail = assert_page_and_its_static_files_answer(client, f"/opportunities/{opportunity.pk}/")
        assert any("chart.umd.min." in url for url in detail)
        rates = assert_page_and_its_static_files_answer(client, "/rates/")
        assert any("chart.umd.min." in url for url in rates)
