"""The book builds offline with warnings as errors, and its pages render."""

import csv
import html as html_lib
import json
import re

from mtlsed.book.build import PROFILE_INDEPENDENT, build_book, output_differences, repo_root
from mtlsed.config.profiles import load_profile
from mtlsed.experiments.report import table_grid


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
    # Citations resolved against references.bib; the root page is for readers: the paper, the pipeline
    # figure and the bottom line this build wrote from its own paired results.
    assert "Liu" in (html / "book" / "bibliography.html").read_text()
    raw = (html / "book" / "intro.html").read_text()
    landing = html_lib.unescape(re.sub(r"<[^>]+>", "", raw))
    assert "Does adding the segment and silent losses to DDC-FAP help, as the paper reports?" in landing
    assert "under the profile ci" in landing and "The paper reports, for the same change" in landing
    assert "the build writes the bottom line here" not in raw and "pipeline.svg" in raw
    assert (html / "_images" / "pipeline.svg").is_file() or list(html.rglob("pipeline*.svg"))
    # Each notebook page shows one parameters cell: the profile's, not also the ci defaults.
    for page in sorted((html / "notebooks").glob("0*.html")):
        text = re.sub(r"<[^>]+>", "", page.read_text())
        assert "the profile ci replaces" in text, page.name
        assert text.count("profile =") == 1 and "seeds =" not in text, page.name
    # The results page is written by the build from the grids chapter 5 ran, not by hand (#12).
    results = html_lib.unescape(re.sub(r"<[^>]+>", "", (html / "book" / "results.html").read_text()))
    assert "Results of this build" in results and "profile ci (smoke test" in results
    for table in (1, 2):
        grid = table_grid(load_profile("ci"), table, repo_root())
        with (grid / f"table{table}.csv").open() as fh:
            baseline = next(r for r in csv.DictReader(fh) if r["row"] == "ddc_fap")
        assert f"{float(baseline['at_map_mean']):.3f} ({float(baseline['at_map_paper']):.3f})" in results
        paired = json.loads((grid / f"table{table}_paired.json").read_text())
        shown = {"segment_silent-label", "segment_silent-label-val", "mtl_ddc_fap"} & set(paired)
        verdicts = {r["verdict"] for key in shown for r in paired[key]}
        compared = {v for v in verdicts if not v.startswith("not comparable")}
        assert all(v in results for v in compared), verdicts
        if any(all(r["verdict"].startswith("not comparable") for r in paired[key]) for key in shown):
            assert "Not compared here (fewer than two seeds with the metric in both rows)" in results
    assert "The BCE baseline here has D" in results
    # Tables of seven metric columns take the width of the text and its margin: on the results page and
    # in chapter 5, where the cells that show them carry the theme's full-width tag.
    page = (html / "book" / "results.html").read_text()
    assert re.search(r'<div class="full-width">\s*(<div[^>]*>\s*)?<table', page)
    chapter5 = (html / "notebooks" / "05_evaluation.html").read_text()
    cells = re.split(r'<div class="cell[ "]', chapter5)[1:]
    assert any("tag_full-width" in c.split(">", 1)[0] and "<table" in c for c in cells)
    # The committed notebooks hold cpu outputs; the cells that every profile computes alike give, under ci,
    # what they show there.
    executed = html.parents[2] / "src" / "notebooks"
    committed = sorted((repo_root() / "notebooks").glob("0*.ipynb"))
    tagged = sum(
        PROFILE_INDEPENDENT in c["metadata"].get("tags", [])
        for nb in committed
        for c in json.loads(nb.read_text())["cells"]
    )
    assert tagged >= 5
    for nb in committed:
        assert output_differences(nb, executed / nb.name) == [], nb.name
    # Figures carry their captions (cell metadata mystnb.figure.caption, kept in the twins).
    for nb in sorted((html.parents[2] / "src" / "notebooks").glob("0*.ipynb")):
        captions = [
            c["metadata"]["mystnb"]["figure"]["caption"]
            for c in json.loads(nb.read_text())["cells"]
            if "mystnb" in c.get("metadata", {})
        ]
        page = (html / "notebooks" / f"{nb.stem}.html").read_text()
        figcaptions = re.findall(r'<span class="caption-text">(.*?)</span>', page, flags=re.S)
        assert captions and len(figcaptions) >= len(captions), nb.name
        plain = [html_lib.unescape(re.sub(r"<[^>]+>", "", f)).replace("\u2019", "'") for f in figcaptions]
        first_words = [f.split()[:2] for f in plain]
        for caption in captions:
            assert caption.split()[:2] in first_words, (nb.name, caption)
