"""`make docs-office` (scripts/docs-office.sh): Word reports and runbook PDFs built from the
Markdown with Debian's pandoc and Chromium (`make test-deps` installs both; without them this
test fails, it is never skipped). Built into a temporary folder: the outputs are git-ignored."""

from __future__ import annotations

import os
import re
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "docs-office.sh"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
REPORTS = {
    "product-report": (
        "secure-vote — Product report",
        ["README.md", "docs/architecture.md", "docs/protocol.md", "docs/api-results.md"],
    ),
    "platform-report": (
        "secure-vote — Platform report",
        ["docs/operations.md", "CONTRIBUTING.md", "docs/seed-coverage.md"],
    ),
}


def first_heading(markdown: Path) -> str:
    """The document's title: its first level-1 heading, as plain text."""
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].replace("`", "").strip()
    raise AssertionError(f"{markdown} has no level-1 heading")


def paragraphs(document: bytes, style: str) -> list[str]:
    """The text of every paragraph of ``style`` in word/document.xml."""
    body = ElementTree.fromstring(document)
    found = []
    for paragraph in body.iter(f"{W}p"):
        styles = [s.get(f"{W}val") for s in paragraph.iter(f"{W}pStyle")]
        if style in styles:
            found.append("".join(t.text or "" for t in paragraph.iter(f"{W}t")))
    return found


def pdf_pages_and_title(pdf: bytes) -> tuple[int, str]:
    """Chromium's PDFs (Skia) keep the page tree and the info dictionary uncompressed: the
    page objects, the page tree's /Count (which must agree) and the /Title (UTF-16 in hex when
    it is not ASCII)."""
    pages = len(re.findall(rb"/Type /Page(?!s)", pdf))
    counts = {int(c) for c in re.findall(rb"/Type /Pages\s*/Count (\d+)", pdf)}
    assert counts == {pages}, (counts, pages)
    utf16 = re.search(rb"/Title <FEFF([0-9A-F]*)>", pdf)
    if utf16:
        return pages, bytes.fromhex(utf16.group(1).decode()).decode("utf-16-be")
    ascii_title = re.search(rb"/Title \(([^()\\]*)\)", pdf)
    assert ascii_title, "the PDF has no title"
    return pages, ascii_title.group(1).decode("ascii")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs-office")
    result = subprocess.run(
        ["bash", str(SCRIPT), str(out)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_each_report_is_a_word_document_with_its_documents_as_chapters(
    built: Path, name: str
) -> None:
    title, some_sources = REPORTS[name]
    docx = built / "word" / f"{name}.docx"
    with zipfile.ZipFile(docx) as archive:
        assert archive.testzip() is None
        assert "[Content_Types].xml" in archive.namelist()
        document = archive.read("word/document.xml")
    assert paragraphs(document, "Title") == [title]
    chapters = paragraphs(document, "Heading1")
    for source in some_sources:
        assert first_heading(ROOT / source) in chapters, (source, chapters)
    # More than headings: the prose is there too.
    assert len(paragraphs(document, "BodyText") + paragraphs(document, "FirstParagraph")) > 20


def test_every_runbook_is_a_pdf_titled_by_its_heading(built: Path) -> None:
    runbooks = sorted((ROOT / "docs" / "runbooks").glob("*.md"))
    assert {p.stem for p in runbooks} == {p.stem for p in (built / "pdf").glob("*.pdf")}
    pages = {}
    for runbook in runbooks:
        pdf = (built / "pdf" / f"{runbook.stem}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        pages[runbook.stem], title = pdf_pages_and_title(pdf)
        assert pages[runbook.stem] >= 1
        assert title == first_heading(runbook)
    # The page count follows the length: the key ceremony runs over pages, migrations fits one.
    assert pages["key-ceremony"] > pages["migrations"]


def test_it_names_a_missing_tool_and_fails(tmp_path: Path) -> None:
    env = {**os.environ, "SECUREVOTE_CHROMIUM": str(tmp_path / "no-chromium")}
    result = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "no-chromium is missing" in result.stderr
    assert not list((tmp_path / "out").rglob("*.pdf"))
