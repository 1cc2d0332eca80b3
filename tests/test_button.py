"""The button's script URL (issue 4 item 2): a small, cacheable, versioned
loader per appId, and the button itself cached for good under its version."""

from __future__ import annotations

import json
import re

import pytest

from checkout.web import button


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(frame_origins=["https://shop.example.com"])


def config_of(script: str) -> dict:
    return json.loads(re.search(r"w\.__beecloudButton=(\{.*?\});", script).group(1))


def test_the_script_tag_gets_a_small_cacheable_loader(client, merchant):
    response = client.get(f"/1/pay/jsbutton/returnscripts?appId={merchant.app_id}")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["ETag"]
    assert len(response.data) < 1024


def test_the_loader_names_the_base_the_app_and_its_frame_origins(client, merchant):
    script = client.get(f"/1/pay/jsbutton/returnscripts?appId={merchant.app_id}&useId=alice") \
        .get_data(as_text=True)
    config = config_of(script)
    assert config == {"base": "http://localhost", "appId": merchant.app_id, "useId": "alice",
                      "frameOrigins": ["https://shop.example.com"], "problem": None}
    assert merchant.app_secret not in script and merchant.master_secret not in script


def test_the_loader_loads_the_button_under_its_content_version(client, merchant, app):
    script = client.get(f"/1/pay/jsbutton/returnscripts?appId={merchant.app_id}") \
        .get_data(as_text=True)
    with app.test_request_context():
        version = button.button_version()
    assert f"/1/pay/jsbutton/bc-button.{version}.js" in script


def test_the_versioned_button_is_cached_for_good(client, app):
    with app.test_request_context():
        version = button.button_version()
    response = client.get(f"/1/pay/jsbutton/bc-button.{version}.js")
    assert response.status_code == 200 and b"BC.click" in response.data
    assert "immutable" in response.headers["Cache-Control"]


def test_an_old_version_gets_the_current_button_uncached(client):
    response = client.get("/1/pay/jsbutton/bc-button.0000000000000000.js")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-cache"


def test_a_new_release_changes_the_version(app, tmp_path, monkeypatch):
    static = tmp_path / "static"
    (static / "js").mkdir(parents=True)
    (static / "js" / "bc-button.js").write_text("var one = 1;")
    monkeypatch.setattr(app, "static_folder", str(static))
    with app.test_request_context():
        first = button.button_version()
        (static / "js" / "bc-button.js").write_text("var two = 2; // a new release")
        import os
        os.utime(static / "js" / "bc-button.js", (1, 1))
        assert button.button_version() != first


def test_an_unchanged_loader_answers_not_modified(client, merchant):
    url = f"/1/pay/jsbutton/returnscripts?appId={merchant.app_id}"
    etag = client.get(url).headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_an_unknown_app_still_gets_a_script_that_reports_it(client):
    response = client.get("/1/pay/jsbutton/returnscripts?appId=nope")
    assert response.status_code == 200
    assert config_of(response.get_data(as_text=True))["problem"] == "appId is not a known app"


def test_a_hostile_app_id_cannot_break_out_of_the_script(client):
    response = client.get("/1/pay/jsbutton/returnscripts",
                          query_string={"appId": "</script><script>alert(1)</script>"})
    assert b"</script>" not in response.data


def test_the_button_is_served_minified_within_its_size_budget(client, merchant, app):
    """Issue 4: the script (loader + button) at most 4 KB gzipped."""
    import gzip

    loader = client.get(f"/1/pay/jsbutton/returnscripts?appId={merchant.app_id}").data
    with app.test_request_context():
        version = button.button_version()
        source = button._button_file().read_bytes()
    served = client.get(f"/1/pay/jsbutton/bc-button.{version}.js").data
    assert len(served) < len(source) * 0.7
    assert b".click=function" in served and b"beecloud:onready" in served
    assert len(gzip.compress(loader)) + len(gzip.compress(served)) <= 4096
