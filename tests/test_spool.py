"""The spool file on its own: every kind of bad line is quarantined with its reason, the good ones are
read, a torn append never spoils the next one, and a full directory falls back to one with room."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from cascrawl.spool import Spool, SpoolUnwritable, decode_record, encode_record, rejected_path

SEEN = datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc)


def _article(n: int) -> dict:
    return {"url": f"https://www.cas.cn/syky/t{n}.shtml", "title": f"中国科学院 第{n}条", "text": "正文" * 20,
            "published_date": date(2024, 1, n % 28 + 1), "images": [], "provenance": {"parser": "x"}}


def _reject(n: int) -> dict:
    return {"url": f"https://www.cas.cn/syky/r{n}.shtml", "reason": "http_404", "detail": None, "seen_at": SEEN}


def _good_file(tmp_path: Path) -> Path:
    path = tmp_path / "cascrawl-spool-abc-run1.jsonl"
    Spool.append(path, [_article(1), _article(2)], [_reject(1)])
    return path


def test_records_come_back_as_written(tmp_path):
    path = _good_file(tmp_path)
    contents = Spool.read(path)
    assert contents.articles == [_article(1), _article(2)]
    assert contents.rejects == [_reject(1)]
    assert contents.bad == [] and not rejected_path(path).exists()


def _multibyte_cut() -> bytes:
    """A record cut inside a multi-byte character (as a crash at a write boundary leaves it)."""
    record = encode_record("article", _article(3))
    cut = record.index("第".encode()) + 1
    return record[:cut]


BAD_LINES = {
    "cut inside a character": (_multibyte_cut(), "cut short"),
    "invalid byte": (b"\xff\xfe\x00 broken\n", "not a spool record"),
    "invalid byte inside a checked record": (
        encode_record("article", _article(4)).replace("第".encode(), b"\xff\xfe\xfd"), "checksum mismatch"),
    "record without a row": (b'{"kind": "article"}\n', "article without a row"),
    "a number": (b"42\n", "not a spool record"),
    "cut at an ASCII byte": (encode_record("article", _article(5))[:40] + b"\n", "cut short"),
    "garbage": (b"Lorem ipsum dolor sit amet\n", "not a spool record"),
    "old plain JSON cut short": (json.dumps({"kind": "article", "row": {"url": "u"}}).encode()[:-3] + b"\n",
                                 "not JSON"),
    "a reject without its reason": (encode_record("reject", {"url": "https://x/1", "seen_at": SEEN}),
                                    "reject without a reason"),
    "a plain JSON list": (b'[1, 2]\n', "not a spool record"),
    "an unknown kind": (encode_record("cookie", {"url": "u"}), "unknown kind"),
}


@pytest.mark.parametrize("name", sorted(BAD_LINES))
def test_a_bad_line_is_quarantined_with_its_reason_and_the_rest_is_read(tmp_path, name):
    line, reason = BAD_LINES[name]
    path = _good_file(tmp_path)
    with open(path, "ab") as handle:
        handle.write(line if line.endswith(b"\n") else line + b"\n")
    Spool.append(path, [_article(6)], [])  # a later append: its line must stay good
    contents = Spool.read(path)
    assert [row["url"] for row in contents.articles] == [_article(n)["url"] for n in (1, 2, 6)]
    assert contents.rejects == [_reject(1)]
    [(number, found)] = contents.bad
    assert number == 4 and found.startswith(reason), found
    [entry] = [json.loads(text) for text in rejected_path(path).read_text("utf-8").splitlines()]
    assert entry["line"] == 4 and entry["reason"] == found
    import base64
    assert base64.b64decode(entry["bytes_base64"]).rstrip(b"\n") == line.rstrip(b"\n")


def test_a_torn_last_line_without_newline_does_not_swallow_the_next_append(tmp_path):
    path = _good_file(tmp_path)
    with open(path, "ab") as handle:
        handle.write(_multibyte_cut())  # no newline: a crash in the middle of an append
    Spool.append(path, [_article(7)], [])
    contents = Spool.read(path)
    assert [row["url"] for row in contents.articles][-1] == _article(7)["url"]
    assert len(contents.articles) == 3 and len(contents.bad) == 1


def test_plain_json_lines_of_an_earlier_cascrawl_are_still_read(tmp_path):
    path = tmp_path / "cascrawl-spool-abc-run1.jsonl"
    path.write_text(json.dumps({"kind": "article", "row": {"url": "https://x/1", "published_date": {"$date": "2024-01-02"}}})
                    + "\n", encoding="utf-8")
    contents = Spool.read(path)
    assert contents.articles == [{"url": "https://x/1", "published_date": date(2024, 1, 2)}] and not contents.bad



def test_a_full_first_directory_falls_back_and_pending_finds_the_file(tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the spool directory should be")  # mkdir fails: NotADirectoryError
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    spool = Spool(blocked / "spool", "sqlite:////somewhere/c.db")
    path, refusals = spool.keep(3, [_article(1)], [])
    assert path == tmp_path / "state" / "cascrawl" / spool.name_for_run(3)
    assert len(refusals) == 1 and str(blocked / "spool") in refusals[0]
    assert spool.pending() == [path]
    assert Spool.read(path).articles == [_article(1)]


def test_nowhere_to_write_says_why_for_every_directory(tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("x")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocked / "state"))
    monkeypatch.setenv("TMPDIR", str(blocked))  # not a directory: gettempdir() would pick /tmp, so pin it
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(blocked))
    spool = Spool(blocked / "spool", "sqlite:////somewhere/c.db")
    with pytest.raises(SpoolUnwritable) as caught:
        spool.keep(3, [_article(1)], [])
    assert len(caught.value.refusals) == 3


def test_a_file_that_cannot_be_read_is_moved_aside(tmp_path):
    path = tmp_path / "cascrawl-spool-abc-run1.jsonl"
    path.mkdir()  # reading a directory fails (IsADirectoryError), as an unreadable file does
    with pytest.raises(OSError):
        Spool.read(path)
    moved = Spool.move_aside(path)
    assert moved.name.endswith(".jsonl.unreadable") and not path.exists()
