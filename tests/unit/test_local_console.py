"""The local stack's console files: `/` redirects, the build is served, app routes get index.html."""

from __future__ import annotations

import pytest

from infra import local_console


@pytest.fixture
def dist(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("not served")
    return tmp_path


def test_the_root_and_the_bare_prefix_redirect_to_the_console():
    assert local_console.answer("/")[:2] == (302, [("Location", "/console/")])
    assert local_console.answer("/console")[:2] == (302, [("Location", "/console/")])


def test_only_get_and_head_under_the_console_are_served_by_it():
    assert local_console.serves("GET", "/console/segments/abc")
    assert local_console.serves("HEAD", "/")
    assert not local_console.serves("POST", "/console/")
    assert not local_console.serves("GET", "/segments")
    assert not local_console.serves("GET", "/consoles")


def test_assets_are_served_with_their_type_and_a_long_cache(dist):
    status, headers, body = local_console.answer("/console/assets/index-abc.js", dist)
    assert status == 200 and body == b"console.log(1)"
    assert dict(headers)["Content-Type"].startswith(("text/javascript", "application/javascript"))
    assert "immutable" in dict(headers)["Cache-Control"]


def test_a_route_of_the_app_gets_index_html_but_a_missing_asset_is_404(dist):
    status, headers, body = local_console.answer("/console/segments/abc/edit", dist)
    assert status == 200 and b"<title>console</title>" in body
    assert dict(headers)["Cache-Control"] == "no-cache"
    assert local_console.answer("/console/assets/gone.js", dist)[0] == 404
    assert local_console.answer("/console/config.json", dist)[0] == 404


def test_paths_outside_the_build_are_never_read(dist):
    status, _, body = local_console.answer("/console/../secret.txt", dist)
    assert body != b"not served" and status == 200  # the app's index.html, not the file


def test_an_unbuilt_console_says_how_to_build_it(tmp_path):
    status, _, body = local_console.answer("/console/", tmp_path / "missing")
    assert status == 503 and b"make console/dist/index.html" in body
