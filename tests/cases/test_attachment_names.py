"""Names from uploads: what the user sent becomes a file name that is safe to download,
to put in an archive and to show, and never a path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.cases.attachments_api import content_disposition
from services.cases.export_archive import archive_name
from services.cases.uploads import media_type, safe_filename


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\Desktop\\memo.docx", "memo.docx"),
        ("..", "attachment"),
        ("...hidden", "hidden"),
        ("", "attachment"),
        ("  \t ", "attachment"),
        ("bell\x07 and\x00nul.txt", "bell andnul.txt"),
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),  # NFC: one code point per letter
        ("right\u202eto\u202cleft.exe", "righttoleft.exe"),  # bidi controls dropped
    ],
)
def test_upload_names_become_safe_file_names(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


def test_a_long_name_is_cut_to_255_bytes_keeping_its_extension() -> None:
    name = safe_filename("é" * 300 + ".tar.gz")
    assert name.endswith(".gz")
    assert len(name.encode()) <= 255
    name.encode().decode()  # not cut inside a character


@given(st.text(max_size=400))
def test_no_name_is_a_path_or_escapes_the_archive_folder(raw: str) -> None:
    name = safe_filename(raw)
    assert name
    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith(".")
    assert len(name.encode()) <= 255
    assert all(c.isprintable() for c in name)
    member = archive_name(__import__("uuid").UUID(int=1), raw)
    assert member.startswith("attachments/00000000-0000-0000-0000-000000000001-")
    assert member.count("/") == 1


def test_the_download_name_has_an_ascii_fallback_and_the_exact_name() -> None:
    assert content_disposition("Überblick; final.pdf") == (
        'attachment; filename="Uberblick; final.pdf"; '
        "filename*=UTF-8''%C3%9Cberblick%3B%20final.pdf"
    )
    assert content_disposition("日本.txt") == (
        "attachment; filename=\"__.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt"
    )


@pytest.mark.parametrize(
    ("declared", "recorded"),
    [
        ("application/pdf", "application/pdf"),
        ("Text/Plain; charset=utf-8", "text/plain"),
        (None, "application/octet-stream"),
        ("not a type", "application/octet-stream"),
        ("text/html\r\nX-Injected: 1", "application/octet-stream"),
    ],
)
def test_media_types_are_kept_only_when_plain(declared: str | None, recorded: str) -> None:
    assert media_type(declared) == recorded
