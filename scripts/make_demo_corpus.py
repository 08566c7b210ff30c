"""Regenerate the images of m2io's bundled demo corpus (a small field guide to image processing).

The demo corpus lives in ``src/m2io/demo/corpus/``: Markdown documents written for m2io plus the
PNG figures they reference. Every figure is either one of scikit-image's bundled sample images
(``skimage.data``; only samples whose documentation states a public-domain/CC0 or "no known
copyright restrictions" status are used) or is derived from one by scikit-image operations, so the
whole folder can be rebuilt from an installed scikit-image alone, offline.

What it does:

* writes every figure to ``src/m2io/demo/corpus/images/<name>.png``, downscaled so that its longest
  side is at most 320 px (400 px for figures of several panels), plus the 16x16 decorative icon
  ``images/icons/note.png`` (drawn here, a loader test: decoration that is not content);
* writes ``src/m2io/demo/corpus/LICENSE-images.md`` from the same table, so the licence notes can
  never drift from the figures;
* removes stale PNGs in ``images/`` that the table no longer produces.

The output is deterministic: noise uses fixed seeds, colour quantisation does not dither, PNGs
carry no timestamps, and re-running the script with the same scikit-image/Pillow versions rewrites
byte-identical files (written for scikit-image 0.26 and Pillow 13; other versions may differ in a
few bytes). The Markdown documents themselves are hand-written and are not touched.

Run it from the repository root (needs the ``demo`` extra, i.e. scikit-image)::

    .venv/bin/python scripts/make_demo_corpus.py

``--check`` rebuilds into a temporary folder and exits 1 if the committed images or the licence
file differ from what the script would write.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from scipy.signal import convolve2d
from skimage import (
    color,
    data,
    draw,
    exposure,
    feature,
    filters,
    morphology,
    restoration,
    segmentation,
    transform,
    util,
)
from skimage.measure import label

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "src" / "m2io" / "demo" / "corpus"
MAX_SIDE = 320  # single figures
COMPOSITE_MAX_SIDE = 400  # figures made of several panels, so each panel stays legible
SEED = 20240611

# Licence notes as stated in each sample's docstring in skimage.data (scikit-image 0.26).
SOURCES: dict[str, tuple[str, str]] = {
    "camera": (
        'skimage.data.camera() - gray-level "camera" photograph',
        "No copyright restrictions. CC0 by the photographer (Lav Varshney).",
    ),
    "coins": (
        "skimage.data.coins() - Greek coins from Pompeii (Brooklyn Museum Collection)",
        "No known copyright restrictions.",
    ),
    "astronaut": (
        "skimage.data.astronaut() - astronaut Eileen Collins (NASA Great Images database)",
        "No known copyright restrictions, released into the public domain.",
    ),
    "coffee": (
        "skimage.data.coffee() - coffee cup (courtesy of Pikolo Espresso Bar)",
        "No copyright restrictions. CC0 by the photographer (Rachel Michetti).",
    ),
    "chelsea": (
        "skimage.data.chelsea() - Chelsea the cat",
        "No copyright restrictions. CC0 by the photographer (Stefan van der Walt).",
    ),
    "rocket": (
        "skimage.data.rocket() - launch of DSCOVR on Falcon 9 (SpaceX)",
        "Captured by SpaceX and released into the public domain.",
    ),
    "horse": (
        "skimage.data.horse() - horse silhouette (openclipart)",
        "No copyright restrictions. CC0 given by owner (Andreas Preuss (marauder)).",
    ),
    "text": (
        'skimage.data.text() - "text" image of handwritten formulas (from Wikipedia)',
        "No known copyright restrictions, released into the public domain.",
    ),
    "cell": (
        "skimage.data.cell() - cell floating in saline (quantitative phase image)",
        "CC0, dedicated to the public domain.",
    ),
    "clock": (
        "skimage.data.clock() - motion-blurred wall clock",
        "Released into the public domain by the photographer (Stefan van der Walt).",
    ),
}


@dataclass(frozen=True)
class Figure:
    """One figure of the corpus: file name (under images/), source sample, how it is made."""

    name: str
    source: str | None  # key of SOURCES; None = drawn by this script
    how: str
    make: Callable[[], np.ndarray]
    composite: bool = False  # several panels in one figure: may be up to COMPOSITE_MAX_SIDE


# ----------------------------------------------------------------------------------- helpers


def to_u8(img: np.ndarray) -> np.ndarray:
    """Any image (bool, float in [0, 1], uint8) as uint8."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == bool:
        return img.astype(np.uint8) * 255
    return util.img_as_ubyte(np.clip(img, 0.0, 1.0))


def fit(img: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """Downscale (never upscale) so the longest side is at most ``max_side``; returns uint8."""
    u8 = to_u8(img)
    h, w = u8.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return u8
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(u8).resize(size, Image.Resampling.LANCZOS))


def as_rgb(img: np.ndarray) -> np.ndarray:
    u8 = to_u8(img)
    return np.stack([u8] * 3, axis=-1) if u8.ndim == 2 else u8[..., :3]


def side_by_side(
    *panels: np.ndarray, gap: int = 6, max_side: int = COMPOSITE_MAX_SIDE
) -> np.ndarray:
    """Panels in one row on a white background, scaled to a common height, fitted to max_side."""
    rgb = any(to_u8(p).ndim == 3 for p in panels)
    prepared = [as_rgb(p) if rgb else to_u8(p) for p in panels]
    height = min(p.shape[0] for p in prepared)
    resized = []
    for p in prepared:
        w = round(p.shape[1] * height / p.shape[0])
        resized.append(np.asarray(Image.fromarray(p).resize((w, height), Image.Resampling.LANCZOS)))
    total_w = sum(p.shape[1] for p in resized) + gap * (len(resized) - 1)
    shape = (height, total_w, 3) if rgb else (height, total_w)
    canvas = np.full(shape, 255, dtype=np.uint8)
    x = 0
    for p in resized:
        canvas[:, x : x + p.shape[1]] = p
        x += p.shape[1] + gap
    return fit(canvas, max_side)


def on_top(*panels: np.ndarray, gap: int = 6, max_side: int = COMPOSITE_MAX_SIDE) -> np.ndarray:
    """Panels stacked vertically on a white background, scaled to a common width."""
    rotated = [np.swapaxes(to_u8(p), 0, 1) for p in panels]
    row = side_by_side(*rotated, gap=gap, max_side=max_side)
    return np.ascontiguousarray(np.swapaxes(row, 0, 1))


def grid(
    *panels: np.ndarray, cols: int = 2, gap: int = 6, max_side: int = COMPOSITE_MAX_SIDE
) -> np.ndarray:
    """Panels in rows of ``cols`` (all the same shape), e.g. an image and three of its channels."""
    rows = [
        side_by_side(*panels[i : i + cols], gap=gap, max_side=10_000)
        for i in range(0, len(panels), cols)
    ]
    return on_top(*[as_rgb(r) for r in rows], gap=gap, max_side=max_side)


def histogram_plot(img: np.ndarray, height: int = 110, cdf: bool = True) -> np.ndarray:
    """A 256-bin grey-level histogram drawn as an RGB array (bars grey, cumulative curve red)."""
    u8 = to_u8(img)
    counts, _ = exposure.histogram(u8, source_range="dtype")
    plot = np.full((height + 8, 256 + 8, 3), 255, dtype=np.uint8)
    top = height - 1
    bars = np.round(counts / counts.max() * (height - 6)).astype(int)
    for x, b in enumerate(bars):
        if b > 0:
            plot[4 + top - b : 4 + top, 4 + x] = (90, 90, 90)
    plot[4 + top, 4 : 4 + 256] = (0, 0, 0)  # x axis
    if cdf:
        c = np.cumsum(counts) / counts.sum()
        ys = 4 + top - np.round(c * (height - 6)).astype(int)
        for x in range(255):
            rr, cc = draw.line(int(ys[x]), 4 + x, int(ys[x + 1]), 5 + x)
            plot[rr, cc] = (200, 30, 30)
    return plot


def stacked(*plots: np.ndarray, gap: int = 6) -> np.ndarray:
    w = max(p.shape[1] for p in plots)
    h = sum(p.shape[0] for p in plots) + gap * (len(plots) - 1)
    canvas = np.full((h, w, 3), 255, dtype=np.uint8)
    y = 0
    for p in plots:
        canvas[y : y + p.shape[0], : p.shape[1]] = p
        y += p.shape[0] + gap
    return canvas


def note_icon() -> np.ndarray:
    """16x16 RGBA 'i in a blue disc' icon: pure decoration, drawn here, no sample image."""
    icon = np.zeros((16, 16, 4), dtype=np.uint8)
    rr, cc = draw.disk((7.5, 7.5), 7.6, shape=(16, 16))
    icon[rr, cc] = (40, 110, 200, 255)
    icon[3:5, 7:9] = (255, 255, 255, 255)  # dot of the i
    icon[6:13, 7:9] = (255, 255, 255, 255)  # stem of the i
    return icon


# ------------------------------------------------------------------------- derived images


def camera() -> np.ndarray:
    return data.camera()


def camera_gray() -> np.ndarray:
    return util.img_as_float(data.camera())


def camera_pixels() -> np.ndarray:
    crop = data.camera()[135:175, 205:245]  # 40x40 around the photographer's eye
    return transform.rescale(crop, 8, order=0, preserve_range=True).astype(np.uint8)


def camera_underexposed() -> np.ndarray:
    return exposure.adjust_gamma(data.camera(), 2.8)


def camera_histograms() -> np.ndarray:
    return stacked(
        histogram_plot(data.camera(), cdf=False), histogram_plot(camera_underexposed(), cdf=False)
    )


def camera_stretched() -> np.ndarray:
    dark = camera_underexposed()
    lo, hi = np.percentile(dark, (1, 99))
    return exposure.rescale_intensity(dark, in_range=(lo, hi), out_range=np.uint8)


def cell_crop() -> np.ndarray:
    return data.cell()[180:660, 70:550]


def cell_equalized() -> np.ndarray:
    return exposure.equalize_hist(cell_crop())


def cell_clahe() -> np.ndarray:
    return exposure.equalize_adapthist(cell_crop(), clip_limit=0.02)


def cell_histograms() -> np.ndarray:
    return stacked(histogram_plot(cell_crop()), histogram_plot(to_u8(cell_equalized())))


def camera_sobel() -> np.ndarray:
    mag = filters.sobel(util.img_as_float(data.camera()))
    return exposure.rescale_intensity(mag, in_range=(0, np.percentile(mag, 99.5)), out_range=(0, 1))


def coins_canny(sigma: float) -> Callable[[], np.ndarray]:
    def make() -> np.ndarray:
        edges = feature.canny(util.img_as_float(data.coins()), sigma=sigma)
        # Thicken the 1-px edges so they survive downscaling to the figure size.
        return morphology.dilation(edges, morphology.footprint_rectangle((2, 2)))

    return make


def camera_noisy() -> np.ndarray:
    return util.random_noise(camera_gray(), mode="gaussian", var=0.01, rng=SEED)


def camera_gaussian_filtered() -> np.ndarray:
    return filters.gaussian(camera_noisy(), sigma=1.5)


def camera_tv() -> np.ndarray:
    return restoration.denoise_tv_chambolle(camera_noisy(), weight=0.1)


def camera_salt_pepper_median() -> np.ndarray:
    crop = camera_gray()[40:360, 120:440]
    noisy = util.random_noise(crop, mode="s&p", amount=0.06, rng=SEED)
    cleaned = filters.median(to_u8(noisy), morphology.disk(2))
    return side_by_side(noisy, cleaned)


def coins_otsu() -> np.ndarray:
    coins = data.coins()
    return coins > filters.threshold_otsu(coins)


def text_global() -> np.ndarray:
    txt = data.text()
    return txt > filters.threshold_otsu(txt)


def text_local() -> np.ndarray:
    txt = data.text()
    return txt > filters.threshold_local(txt, block_size=35, offset=10)


def text_global_vs_local() -> np.ndarray:
    return on_top(text_global(), text_local())


def coins_watershed_labels() -> np.ndarray:
    coins = data.coins()
    markers = np.zeros_like(coins, dtype=np.uint8)
    markers[coins < 30] = 1
    markers[coins > 150] = 2
    regions = segmentation.watershed(filters.sobel(coins), markers) == 2
    regions = ndi.binary_fill_holes(regions)
    regions = morphology.remove_small_objects(regions, max_size=20)
    labels = label(regions)
    return color.label2rgb(labels, image=coins, bg_label=0, alpha=0.35)


def coffee_superpixels() -> np.ndarray:
    img = data.coffee()
    segments = segmentation.slic(img, n_segments=150, compactness=10, start_label=1)
    return segmentation.mark_boundaries(img, segments, color=(1, 1, 0))


def coffee_hsv_channels() -> np.ndarray:
    img = data.coffee()
    hsv = color.rgb2hsv(img)
    return grid(img, *(as_rgb(hsv[..., i]) for i in range(3)))


def astronaut_rgb_channels() -> np.ndarray:
    img = data.astronaut()
    return side_by_side(img[..., 0], img[..., 1], img[..., 2])


def horse_shape() -> np.ndarray:
    return ~data.horse()  # the sample is a black horse on white; make the object True


def horse_eroded() -> np.ndarray:
    return morphology.erosion(horse_shape(), morphology.disk(6))


def horse_dilated() -> np.ndarray:
    return morphology.dilation(horse_shape(), morphology.disk(6))


def horse_skeleton() -> np.ndarray:
    skel = morphology.skeletonize(horse_shape())
    thick = morphology.dilation(skel, morphology.disk(1))
    out = np.where(horse_shape(), 200, 255).astype(np.uint8)
    out[thick] = 0
    return out


def camera_blurred() -> np.ndarray:
    psf = np.ones((7, 7)) / 49
    blurred = convolve2d(camera_gray(), psf, mode="same", boundary="symm")
    rng = np.random.default_rng(SEED)
    return np.clip(blurred + 0.003 * rng.standard_normal(blurred.shape), 0, 1)


def camera_deconvolved() -> np.ndarray:
    psf = np.ones((7, 7)) / 49
    padded = np.pad(camera_blurred(), 48, mode="reflect")  # avoids ringing along the borders
    return restoration.richardson_lucy(padded, psf, num_iter=30)[48:-48, 48:-48]


def astronaut_damage_mask() -> np.ndarray:
    mask = np.zeros(data.astronaut().shape[:2], dtype=bool)
    mask[150:160, 40:470] = True  # a horizontal scratch
    mask[60:450, 330:337] = True  # a vertical scratch
    rr, cc = draw.disk((380, 120), 22)
    mask[rr, cc] = True  # a blot
    return mask


def astronaut_damaged_inpainted() -> np.ndarray:
    img = transform.rescale(data.astronaut(), 0.5, channel_axis=-1, anti_aliasing=True)
    mask = transform.rescale(astronaut_damage_mask(), 0.5, order=0, anti_aliasing=False) > 0
    damaged = img.copy()
    damaged[mask] = (1.0, 1.0, 1.0)
    repaired = restoration.inpaint_biharmonic(damaged, mask, channel_axis=-1)
    return side_by_side(damaged, repaired)


def rocket_rotated() -> np.ndarray:
    small = transform.rescale(data.rocket(), 0.5, channel_axis=-1, anti_aliasing=True)
    return transform.rotate(small, 12, resize=True, mode="constant", cval=1.0)


def rocket_aliasing() -> np.ndarray:
    crop = data.rocket()[100:420, 420:640]  # the two lattice towers on the right
    naive = transform.rescale(crop, 0.25, channel_axis=-1, anti_aliasing=False, order=0)
    smooth = transform.rescale(crop, 0.25, channel_axis=-1, anti_aliasing=True)
    up = {"order": 0, "channel_axis": -1, "anti_aliasing": False}
    return side_by_side(transform.rescale(naive, 4, **up), transform.rescale(smooth, 4, **up))


def chelsea_corners() -> np.ndarray:
    img = data.chelsea()
    gray = color.rgb2gray(img)
    coords = feature.corner_peaks(
        feature.corner_harris(gray, sigma=2), min_distance=8, threshold_rel=0.02
    )
    out = fit(img).copy()  # draw at figure size so the circles stay visible
    scale = out.shape[0] / img.shape[0]
    for r, c in coords:
        for radius in (4, 5):
            rr, cc = draw.circle_perimeter(
                round(r * scale), round(c * scale), radius, shape=out.shape[:2]
            )
            out[rr, cc] = (255, 30, 30)
    return out


FIGURES: list[Figure] = [
    # 01 pixels and arrays
    Figure("camera.png", "camera", "the sample as shipped (downscaled)", camera),
    Figure(
        "camera-pixels.png",
        "camera",
        "40x40 crop enlarged 8x, nearest neighbour (transform.rescale, order=0)",
        camera_pixels,
    ),
    Figure("chelsea.png", "chelsea", "the sample as shipped (downscaled)", data.chelsea),
    # 02 exposure and histograms
    Figure(
        "camera-underexposed.png",
        "camera",
        "darkened with exposure.adjust_gamma(gamma=2.8)",
        camera_underexposed,
    ),
    Figure(
        "camera-histograms.png",
        "camera",
        "grey-level histograms (exposure.histogram) of the original and the darkened image",
        camera_histograms,
    ),
    Figure(
        "camera-stretched.png",
        "camera",
        "darkened image contrast-stretched between its 1st and 99th percentiles "
        "(exposure.rescale_intensity)",
        camera_stretched,
    ),
    # 03 histogram equalization
    Figure("cell.png", "cell", "480x480 crop of the sample", cell_crop),
    Figure("cell-equalized.png", "cell", "crop after exposure.equalize_hist", cell_equalized),
    Figure(
        "cell-clahe.png",
        "cell",
        "crop after exposure.equalize_adapthist (CLAHE, clip 0.02)",
        cell_clahe,
    ),
    Figure(
        "cell-histograms.png",
        "cell",
        "histograms and cumulative curves of the crop before and after equalize_hist",
        cell_histograms,
    ),
    # 04 edge detection
    Figure("camera-sobel.png", "camera", "Sobel gradient magnitude (filters.sobel)", camera_sobel),
    Figure("coins-canny-sigma1.png", "coins", "feature.canny edges with sigma=1", coins_canny(1.0)),
    Figure("coins-canny-sigma3.png", "coins", "feature.canny edges with sigma=3", coins_canny(3.0)),
    # 05 noise and denoising
    Figure(
        "camera-noisy.png",
        "camera",
        f"util.random_noise Gaussian noise, variance 0.01, seed {SEED}",
        camera_noisy,
    ),
    Figure(
        "camera-gaussian-filtered.png",
        "camera",
        "noisy image after filters.gaussian(sigma=1.5)",
        camera_gaussian_filtered,
    ),
    Figure(
        "camera-tv-denoised.png",
        "camera",
        "noisy image after restoration.denoise_tv_chambolle(weight=0.1)",
        camera_tv,
    ),
    Figure(
        "camera-salt-pepper-median.png",
        "camera",
        f"crop with 6% salt-and-pepper noise (seed {SEED}) beside its filters.median result "
        "(disk radius 2)",
        camera_salt_pepper_median,
        composite=True,
    ),
    # 06 thresholding
    Figure("coins.png", "coins", "the sample as shipped (downscaled)", data.coins),
    Figure("coins-otsu.png", "coins", "binary mask from filters.threshold_otsu", coins_otsu),
    Figure("text.png", "text", "the sample as shipped (downscaled)", data.text),
    Figure(
        "text-global-vs-local.png",
        "text",
        "global Otsu threshold above filters.threshold_local(block_size=35, offset=10)",
        text_global_vs_local,
        composite=True,
    ),
    # 07 segmentation
    Figure(
        "coins-labels.png",
        "coins",
        "segmentation.watershed result, holes filled, labelled and coloured (color.label2rgb)",
        coins_watershed_labels,
    ),
    Figure(
        "coffee-superpixels.png",
        "coffee",
        "segmentation.slic superpixels (n_segments=150, compactness=10) outlined with "
        "segmentation.mark_boundaries",
        coffee_superpixels,
    ),
    # 08 colour spaces
    Figure("coffee.png", "coffee", "the sample as shipped (downscaled)", data.coffee),
    Figure(
        "astronaut-rgb-channels.png",
        "astronaut",
        "red, green and blue channels side by side, each as a grey image",
        astronaut_rgb_channels,
        composite=True,
    ),
    Figure(
        "coffee-hsv-channels.png",
        "coffee",
        "the photo with the hue, saturation and value channels of color.rgb2hsv",
        coffee_hsv_channels,
        composite=True,
    ),
    # 09 morphology
    Figure("horse.png", "horse", "the silhouette, inverted so the horse is white", horse_shape),
    Figure("horse-eroded.png", "horse", "morphology.erosion with a disk of radius 6", horse_eroded),
    Figure(
        "horse-dilated.png", "horse", "morphology.dilation with a disk of radius 6", horse_dilated
    ),
    Figure(
        "horse-skeleton.png",
        "horse",
        "morphology.skeletonize drawn over the silhouette",
        horse_skeleton,
    ),
    # 10 restoration
    Figure("clock.png", "clock", "the sample as shipped (downscaled)", data.clock),
    Figure(
        "camera-blurred.png",
        "camera",
        f"blurred with a 7x7 box kernel plus slight Gaussian noise (seed {SEED})",
        camera_blurred,
    ),
    Figure(
        "camera-deconvolved.png",
        "camera",
        "blurred image after restoration.richardson_lucy (30 iterations, known kernel)",
        camera_deconvolved,
    ),
    Figure(
        "astronaut-inpainted.png",
        "astronaut",
        "half-size copy with painted-over scratches beside its restoration.inpaint_biharmonic "
        "repair",
        astronaut_damaged_inpainted,
        composite=True,
    ),
    # 11 geometry and features
    Figure(
        "rocket-rotated.png",
        "rocket",
        "rotated 12 degrees with transform.rotate(resize=True)",
        rocket_rotated,
    ),
    Figure(
        "rocket-aliasing.png",
        "rocket",
        "crop downscaled 4x without and with anti-aliasing (transform.rescale), enlarged 4x",
        rocket_aliasing,
        composite=True,
    ),
    Figure(
        "chelsea-corners.png",
        "chelsea",
        "feature.corner_harris / feature.corner_peaks corners circled",
        chelsea_corners,
    ),
    # decoration
    Figure(
        "icons/note.png", None, "16x16 decorative 'note' icon drawn with skimage.draw", note_icon
    ),
]


# ------------------------------------------------------------------------------- writing


def save_png(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(arr)
    if img.mode == "RGB":
        # A 256-colour palette keeps photographs small; no dithering keeps it deterministic.
        img = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    img.save(path, format="PNG", optimize=True)


def license_text() -> str:
    lines = [
        "# Images of the m2io demo corpus: sources and licences",
        "",
        "The prose of the documents in this folder was written for m2io and is licensed like the",
        "rest of the project (Apache-2.0).",
        "",
        "Every image under `images/` is either one of the sample images that ship with",
        "scikit-image (`skimage.data`) or is derived from one by scikit-image operations. All of",
        "them are produced by `scripts/make_demo_corpus.py`, which regenerates this file too:",
        "",
        "    .venv/bin/python scripts/make_demo_corpus.py",
        "",
        'Only samples whose scikit-image documentation states a public-domain, CC0 or "no known',
        'copyright restrictions" status are used (samples without such a note, e.g. `moon` and',
        "`page`, are deliberately left out). The licence notes below are quoted from the",
        "docstrings of `skimage.data` in scikit-image 0.26; scikit-image itself is BSD-3-Clause.",
        "",
        "## Source samples",
        "",
        "| Sample | Licence as stated by scikit-image |",
        "|---|---|",
    ]
    used = sorted({f.source for f in FIGURES if f.source})
    for key in used:
        desc, lic = SOURCES[key]
        lines.append(f"| `{key}`: {desc.split(' - ', 1)[1]} | {lic} |")
    lines += [
        "",
        "## Files",
        "",
        "| File | Source sample | How it is made |",
        "|---|---|---|",
    ]
    for f in FIGURES:
        src = f"`skimage.data.{f.source}()`" if f.source else "none (drawn by the script)"
        lines.append(f"| `images/{f.name}` | {src} | {f.how} |")
    lines += [
        "",
        f"Single figures are downscaled to at most {MAX_SIDE} px on the longest side, figures made",
        f"of several panels to at most {COMPOSITE_MAX_SIDE} px. The decorative icon",
        "`images/icons/note.png` is drawn by the script and is part of the project (Apache-2.0).",
        "",
    ]
    return "\n".join(lines)


def build(out: Path) -> list[Path]:
    written = []
    for f in FIGURES:
        arr = f.make()
        if f.source is not None:
            arr = fit(arr, COMPOSITE_MAX_SIDE if f.composite else MAX_SIDE)
        path = out / "images" / f.name
        save_png(arr, path)
        written.append(path)
    (out / "LICENSE-images.md").write_text(license_text(), encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild into a temp folder and compare with the committed files",
    )
    args = parser.parse_args(argv)

    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            written = build(Path(tmp))
            rels = [p.relative_to(tmp) for p in written] + [Path("LICENSE-images.md")]
            bad = [
                r
                for r in rels
                if not (CORPUS / r).exists()
                or not filecmp.cmp(Path(tmp) / r, CORPUS / r, shallow=False)
            ]
        for r in bad:
            print(f"differs: {r}", file=sys.stderr)
        return 1 if bad else 0

    written = build(CORPUS)
    keep = set(written)
    for stale in (CORPUS / "images").rglob("*.png"):
        if stale not in keep:
            stale.unlink()
            print(f"removed stale {stale.relative_to(ROOT)}")
    total = sum(p.stat().st_size for p in written)
    for p in written:
        with Image.open(p) as im:
            print(f"{p.relative_to(CORPUS)}  {im.size[0]}x{im.size[1]}  {p.stat().st_size} B")
    print(f"{len(written)} images, {total / 1024:.0f} KiB in {CORPUS.relative_to(ROOT)}/images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
