"""The report renders in a real browser: headless Chromium, offline, screenshot checked pixel by pixel.

The charts' fill colours (regimes, long/short) are used nowhere in the page's CSS, so
finding them in the screenshot means the inline SVG was drawn. The same page with its
SVG removed is the control: the check must find none of them there.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from sniper.report.plots import LONG_COLOUR, REGIME_COLOURS, SHORT_COLOUR
from tests.conftest import run_cli
from tests.test_report import assert_self_contained, create_regime_tables, insert_sample_runs

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1400, 4200)  # tall enough for the whole sample page, heat map included
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (`make test` installs it: apt-get install chromium)"
)


def screenshot(page: Path, png: Path) -> Image.Image:
    with tempfile.TemporaryDirectory(prefix="sniper-chromium-") as profile:
        result = subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={png}",
             page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )
    assert result.returncode == 0 and png.exists(), result.stderr[-2000:]
    return Image.open(png).convert("RGB")


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def colour_counts(image: Image.Image) -> dict[tuple[int, int, int], int]:
    return {colour: count for count, colour in image.getcolors(maxcolors=image.width * image.height)}


def chart_pixels(counts: dict[tuple[int, int, int], int]) -> dict[str, int]:
    """Pixels of exactly each chart fill colour."""
    fills = {**REGIME_COLOURS, "long": LONG_COLOUR, "short": SHORT_COLOUR}
    return {name: counts.get(rgb(colour), 0) for name, colour in fills.items()}


def test_report_renders_its_charts_in_chromium(database, tmp_path):
    with database.connect() as conn:
        insert_sample_runs(conn)
        create_regime_tables(conn)
    report = tmp_path / "report.html"
    assert run_cli("report", "--out", str(report)).returncode == 0
    page = report.read_text()
    assert_self_contained(page)

    image = screenshot(report, tmp_path / "report.png")
    assert image.size == WINDOW
    counts = colour_counts(image)
    white = counts.get((255, 255, 255), 0)
    assert len(counts) > 200, f"only {len(counts)} colours: a blank or text-only page"
    assert 1 - white / (image.width * image.height) > 0.10
    pixels = chart_pixels(counts)
    # Every chart fill shows up as solid area (a bar or a heat-map cell is thousands of pixels).
    assert all(count > 2_000 for count in pixels.values()), pixels

    # Control: without its SVG the same page has text and tables but none of the chart fills.
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<svg\b.*?</svg>", "", page, flags=re.S))
    control = chart_pixels(colour_counts(screenshot(bare, tmp_path / "bare.png")))
    assert all(count == 0 for count in control.values()), control
