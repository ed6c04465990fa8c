"""`wlcap screenshot` and `wlcap outputs` against a real sway: exact pixels, whole and region."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import HEIGHT, WIDTH, run_cli, wait_until_shown
from harness.compositor import SwayHeadless
from patterns import crop, decode_png, mismatches, pattern, write_png

from capture.image import RgbImage


def screenshot(env: dict[str, str], out: Path, *args: str) -> RgbImage:
    result = run_cli("screenshot", "-o", str(out), *args, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    return decode_png(out.read_bytes())


def test_outputs_json_describes_the_headless_output(sway: SwayHeadless) -> None:
    result = run_cli("outputs", "--json", env=sway.env)
    assert result.returncode == 0, result.stderr
    outputs = {o["name"]: o for o in json.loads(result.stdout)}
    first = outputs["HEADLESS-1"]
    assert (first["width"], first["height"]) == (WIDTH, HEIGHT)
    assert (first["logical_width"], first["logical_height"]) == (WIDTH, HEIGHT)
    assert (first["x"], first["y"], first["scale"], first["transform"]) == (0, 0, 1, "normal")
    assert first["refresh_mhz"] > 0
    assert first["description"]


def test_whole_output_matches_exactly(sway: SwayHeadless, shown_pattern: RgbImage, tmp_path: Path) -> None:
    image = screenshot(sway.env, tmp_path / "whole.png", "--output", "HEADLESS-1")
    assert mismatches(image, shown_pattern) == 0


def test_default_output_is_the_first(sway: SwayHeadless, shown_pattern: RgbImage, tmp_path: Path) -> None:
    image = screenshot(sway.env, tmp_path / "default.png")
    assert mismatches(image, shown_pattern) == 0


@pytest.mark.parametrize("region", [(13, 7, 101, 33), (0, 0, 1, 1), (639, 479, 1, 1), (321, 17, 3, 461),
                                    (1, 2, 638, 477), (0, 0, WIDTH, HEIGHT)])
def test_region_matches_exactly(sway: SwayHeadless, shown_pattern: RgbImage, tmp_path: Path,
                                region: tuple[int, int, int, int]) -> None:
    x, y, w, h = region
    image = screenshot(sway.env, tmp_path / "region.png", "--output", "HEADLESS-1", "--region", f"{x},{y} {w}x{h}")
    assert mismatches(image, crop(shown_pattern, x, y, w, h)) == 0


@pytest.mark.parametrize("transform", ["90", "flipped-270", "180"])
def test_transformed_output_is_captured_upright(fresh_sway: SwayHeadless, tmp_path: Path, transform: str) -> None:
    fresh_sway.swaymsg("output", "HEADLESS-1", "transform", transform)
    w, h = fresh_sway.width, fresh_sway.height
    if transform.endswith(("90", "270")):
        w, h = h, w
    expected = pattern(w, h, seed=11)
    fresh_sway.show_image("HEADLESS-1", write_png(expected, fresh_sway.dir / "rotated.png"))
    wait_until_shown("HEADLESS-1", expected, fresh_sway.env)
    image = screenshot(fresh_sway.env, tmp_path / "rotated.png", "--output", "HEADLESS-1")
    assert mismatches(image, expected) == 0
    # A region is given in upright pixels too.
    region = screenshot(fresh_sway.env, tmp_path / "rotated-region.png", "--output", "HEADLESS-1",
                        "--region", "5,9 31x17")
    assert mismatches(region, crop(expected, 5, 9, 31, 17)) == 0
