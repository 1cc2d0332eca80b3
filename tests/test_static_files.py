"""Static files: versioned URLs, cached for good under the current version."""

from __future__ import annotations

import os
import re

from flask import url_for


def test_static_urls_carry_the_files_content_version(app):
    with app.test_request_context():
        assert re.fullmatch(r"/static/css/pay\.css\?v=[0-9a-f]{12}",
                            url_for("static", filename="css/pay.css"))


def test_the_current_version_is_cached_for_a_year(app, client):
    with app.test_request_context():
        url = url_for("static", filename="js/pay.js")
    response = client.get(url)
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["Cache-Control"]


def test_an_unversioned_or_stale_url_is_revalidated(client):
    for url in ("/static/js/pay.js", "/static/js/pay.js?v=000000000000"):
        response = client.get(url)
        assert response.status_code == 200
        assert "max-age=31536000" not in response.headers.get("Cache-Control", "")


def test_pages_link_versioned_static_files(client):
    page = client.get("/no-such-page").get_data(as_text=True)
    assert re.search(r'href="/static/css/checkout\.css\?v=[0-9a-f]{12}"', page)


def test_a_name_outside_the_static_folder_is_never_read(app):
    from checkout.web import static_files

    with app.test_request_context():
        assert static_files.version_of("../wsgi.py") is None
        assert static_files.version_of("/etc/hostname") is None
        assert static_files.version_of("css/no-such.css") is None


def test_a_file_changed_on_disk_gets_a_new_version_within_a_second(app, tmp_path, monkeypatch):
    from checkout.web import static_files

    clock = [1000.0]
    monkeypatch.setattr(static_files.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    page_css = tmp_path / "page.css"
    page_css.write_text("body { color: black }")
    with app.test_request_context():
        first = static_files.version_of("page.css")
        page_css.write_text("body { color: navy }")
        os.utime(page_css, (1, 1))  # another mtime, whatever the file system's resolution
        assert static_files.version_of("page.css") == first  # looked at less than a second ago
        clock[0] += static_files.RECHECK_SECONDS
        assert static_files.version_of("page.css") not in (first, None)
