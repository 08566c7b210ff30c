"""m2io.safety: the path, file-type and URL checks every loader and renderer relies on."""

from __future__ import annotations

import os

import pytest

from m2io.safety import confine, image_kind, is_inside, remote_image_url

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def test_confine_keeps_paths_inside_the_root(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(PNG)
    assert confine("img/a.png", tmp_path) == (tmp_path / "img" / "a.png").resolve()
    assert confine(tmp_path / "img" / "a.png", tmp_path) is not None


@pytest.mark.parametrize(
    "path", ["../outside.png", "/etc/passwd", "/proc/self/environ", "img/../../x"]
)
def test_confine_refuses_paths_that_escape(tmp_path, path):
    assert confine(path, tmp_path) is None


def test_confine_refuses_the_root_itself(tmp_path):
    assert confine(".", tmp_path) is None


def test_confine_follows_symlinks(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.png"
    secret.write_bytes(PNG)
    root = tmp_path / "corpus"
    root.mkdir()
    os.symlink(secret, root / "link.png")
    assert confine("link.png", root) is None
    assert not is_inside(root / "link.png", root)


def test_confine_survives_symlink_loops_and_nul(tmp_path):
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    assert confine("a", tmp_path) is None
    assert confine("x\x00y", tmp_path) is None


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (PNG, "png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 8, "jpeg"),
        (b"GIF89a" + b"\x00" * 6, "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"SECRET=hunter2\n", None),
        (b"<svg xmlns=", None),
        (b"", None),
    ],
)
def test_image_kind_reads_magic_bytes(head, kind):
    assert image_kind(head) == kind


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.org/a.png", True),
        ("http://example.org/a.png", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:image/png;base64,AAAA", False),
        ("file:///etc/passwd", False),
        ("//example.org/a.png", False),
        ("img/a.png", False),
        ("https://", False),
        ("https://exa mple.org/a.png", False),
        (None, False),
    ],
)
def test_remote_image_url_accepts_only_http_with_a_host(url, ok):
    assert (remote_image_url(url) is not None) is ok
