"""The format table: every entry loads, suffixes map to one format, and per-format limits reach the extractor."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from desktop_search.core.extract import formats, registry
from desktop_search.core.extract.types import Extracted, ExtractLimits


@pytest.mark.parametrize("entry", formats.FORMATS, ids=lambda f: f.kind)
def test_every_format_loads_its_extractor(entry: formats.Format) -> None:
    assert callable(entry.load())
    for suffix in entry.suffixes:
        assert registry.kind_for_suffix(suffix.upper()) == entry.kind
        assert registry.is_candidate(f"x{suffix}")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("anim.GIF", "image (.gif)"),
        ("photo.JPG", None),  # read by OCR when it is on (issue 15)
        ("song.mp3", "audio or video (.mp3)"),
        ("setup.exe", "program or library (.exe)"),
        ("model.safetensors", "binary data (.safetensors)"),
        ("notes.txt", None),
        ("README", None),
        ("report.final", None),
        ("design.vhd", None),  # VHDL source: a format that reads it wins over the deny list
    ],
)
def test_skip_reason_names_the_category(name: str, reason: str | None) -> None:
    assert registry.skip_reason(name) == reason


def test_format_limits_override_reaches_the_extractor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ExtractLimits] = []

    def fake(path: Path, limits: ExtractLimits) -> Extracted:
        seen.append(limits)
        return Extracted(text="body", extractor="fake")

    entry = dataclasses.replace(formats.BY_KIND["text"], limits={"timeout_s": 7.0})
    monkeypatch.setattr(formats.Format, "load", lambda self: fake)
    monkeypatch.setattr(registry, "choose_format", lambda path, head: entry)
    target = tmp_path / "a.txt"
    target.write_text("hello")
    assert registry.run_extractor(target, ExtractLimits(timeout_s=60.0)).text == "body"
    assert seen[0].timeout_s == 7.0


def test_pdf_bytes_named_txt_are_read_as_pdf(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    assert registry.choose(target, b"%PDF-1.7\n") == "pdf"
