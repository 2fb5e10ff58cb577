"""The loopback server of a site copy (cascrawl/site_server.py), as `cascrawl demo` and the tests use it, and
which copy the demo serves: the wheel's own, else a checkout's fixtures/site."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from cascrawl import site_server


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.headers.get_content_type(), answer.read()


def test_a_checkout_without_a_shipped_copy_serves_its_fixtures():
    if site_server.SHIPPED_SITE.is_dir():
        pytest.skip("a wheel's copy is installed here")
    assert site_server.demo_site() == site_server.CHECKOUT_SITE


def test_no_copy_at_all_says_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(site_server, "SHIPPED_SITE", tmp_path / "shipped")
    monkeypatch.setattr(site_server, "CHECKOUT_SITE", tmp_path / "checkout")
    with pytest.raises(FileNotFoundError, match="no site copy"):
        site_server.demo_site()


def test_a_section_answers_with_its_index_page_as_html_and_folders_are_not_listed(tmp_path):
    (tmp_path / "yw" / "202501").mkdir(parents=True)
    (tmp_path / "yw" / "index.shtml").write_text("<html>要闻</html>", "utf-8")
    with site_server.serve_site(tmp_path) as base:
        assert _get(f"{base}/yw/") == ("text/html", "<html>要闻</html>".encode())
        with pytest.raises(urllib.error.HTTPError) as listing:
            _get(f"{base}/yw/202501/")
    assert listing.value.code == 404
    assert site_server.site_sections(tmp_path) == ["yw"]


def test_a_route_answers_its_path_itself(tmp_path):
    (tmp_path / "yw").mkdir()
    (tmp_path / "yw" / "index.shtml").write_text("listing", "utf-8")

    def gone(handler):
        handler.send_error(410, "Gone")

    with site_server.serve_site(tmp_path, routes={"/yw/old.shtml": gone}) as base:
        with pytest.raises(urllib.error.HTTPError) as answer:
            _get(f"{base}/yw/old.shtml?x=1")
    assert answer.value.code == 410


def test_a_folder_that_is_no_site_copy_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        with site_server.serve_site(tmp_path):
            pass
