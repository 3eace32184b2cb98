"""The book builds offline with warnings as errors, and its pages render."""

import re

from mtlsed.book import build_book


def test_book_builds_and_pages_render(tmp_path):
    index = build_book("ci", out=tmp_path, log=lambda *_: None)
    html = index.parent
    assert index.is_file()
    method = (html / "book" / "method.html").read_text()
    # Equations 1-8 of the paper are on the method page, numbered.
    for n in range(1, 9):
        assert re.search(rf"\\tag\{{{n}\}}", method), f"equation ({n}) missing"
    # MathJax is served from the book itself, not from a CDN.
    src = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', method, flags=re.I)
    assert src and all(not s.startswith("http") for s in src), src
    assert (html / "_static").exists()
    # Citations resolved against references.bib; the landing page is the README.
    assert "Liu" in (html / "book" / "bibliography.html").read_text()
    landing = re.sub(r"<[^>]+>", "", (html / "README.html").read_text())
    assert "make test\nmake book" in landing
    # Each notebook page shows one parameters cell: the profile's, not also the ci defaults.
    for page in sorted((html / "notebooks").glob("0*.html")):
        text = re.sub(r"<[^>]+>", "", page.read_text())
        assert "Parameters from params/ci.yaml, injected by papermill" in text, page.name
        assert text.count("description =") == 1, page.name
