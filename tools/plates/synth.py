"""Synthetic plate crops with their text, for training the plate reader.

A sample is drawn in three steps, each from a seeded ``numpy`` generator so a seed gives the same
crops on every machine:

1. text in a plate format: Taiwanese first (ABC-1234, AB-1234, ABC-123, 123-ABC, two-row scooter
   plates), then generic Latin ones (Brazilian LLL-DDDD, Mercosur, US-like) and Romanian EU ones
   (B 12 ABC, B 123 ABC, CJ 12 ABC);
2. the plate drawn in one of three styles: OpenCV Hershey fonts, a TrueType font through Pillow
   (when Pillow and a font are installed), or the simulator's own plate drawing
   (``roadcam.sim.plate_patch``), so the reader reads what the simulator shows. EU plates are
   long (520 x 110 mm), white with black characters and the blue EU band with its country code
   on the left;
3. the plate placed on a vehicle-like surround, warped in perspective and degraded: low
   resolution, blur, glare, night, dirt, noise, JPEG.

The crop is what a plate detector would hand the reader: the plate with a loose, uneven margin.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from roadcam.sim.plate_patch import plate_patches
from roadcam.sim.plates import normalise_plate

_TW_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # Taiwan never issues I or O
_LETTERS = string.ascii_uppercase
_DIGITS = string.digits
_ALPHANUMERIC = _LETTERS + _DIGITS
#: Romanian county codes (every one but Bucharest's "B", which the formats name on their own).
_RO_COUNTIES = ("AB", "AG", "AR", "BC", "BH", "BN", "BR", "BT", "BV", "BZ", "CJ", "CL", "CS", "CT", "CV",
                "DB", "DJ", "GJ", "GL", "GR", "HD", "HR", "IF", "IL", "IS", "MH", "MM", "MS", "NT", "OT",
                "PH", "SB", "SJ", "SM", "SV", "TL", "TM", "TR", "VL", "VN", "VS")

#: Text formats: L a letter, T a Taiwanese letter, D a digit, X either, C a Romanian county code;
#: "-" a separator, "/" a row break; other characters as they are. Weighted by how often they
#: are drawn.
TEXT_FORMATS: dict[str, tuple[str, float]] = {
    "tw-car": ("TTT-DDDD", 0.18),
    "tw-car-old": ("TT-DDDD", 0.07),
    "tw-scooter": ("TTT-DDD", 0.06),
    "tw-scooter-old": ("DDD-TTT", 0.05),
    "tw-scooter-two-row": ("TTT/DDD", 0.16),
    "tw-scooter-two-row-old": ("DDD/TTT", 0.12),
    "br": ("LLL-DDDD", 0.10),
    "mercosur": ("LLLDLDD", 0.04),
    "us-7": ("DLLL-DDD", 0.10),
    "us-6": ("LLL-DDD", 0.08),
    "us-mixed": ("*", 0.20),
    "eu-ro-bucharest": ("B-DD-LLL", 0.12),
    "eu-ro-bucharest-3": ("B-DDD-LLL", 0.10),
    "eu-ro-county": ("C-DD-LLL", 0.14),
}
#: Aspect ratio (width / height) of EU single-row plates: 520 x 110 mm, and shorter ones.
EU_ASPECTS = (4.73, 4.73, 4.2)
#: The EU band's blue (BGR) and its width as a share of the plate's width.
EU_BLUE = (150, 50, 0)
EU_BAND_SHARE = 0.085

#: Background and text colours (BGR) of plate colour schemes.
COLOUR_SCHEMES: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((235, 238, 238), (25, 25, 25)),    # white, black text
    ((235, 238, 238), (40, 110, 20)),   # white, green text (Taiwanese trucks)
    ((235, 238, 238), (30, 30, 190)),   # white, red text (Taiwanese buses)
    ((235, 238, 238), (120, 40, 20)),   # white, blue text (US)
    ((25, 25, 25), (235, 238, 238)),    # black, white text
    ((60, 130, 40), (235, 238, 238)),   # green, white text
    ((40, 40, 180), (235, 238, 238)),   # red, white text
    ((40, 200, 230), (25, 25, 25)),     # yellow, black text
    ((150, 150, 150), (30, 30, 30)),    # grey, black text
)

#: Aspect ratio (width / height) of single-row plates, two-row plates.
SINGLE_ROW_ASPECTS = (2.0, 2.375, 3.08)
TWO_ROW_ASPECT = 1.5

_HERSHEY_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
                  cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_PLAIN)
_US_WORDS = ("California", "TEXAS", "Illinois", "NEW YORK", "FLORIDA", "Ohio", "INDIANA", "ARIZONA",
             "Nevada", "Oregon", "Georgia", "dmv.ca.gov", "Land of Lincoln", "Sunshine State")
_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))


@dataclass(frozen=True)
class SynthSample:
    """One synthetic crop: BGR pixels, the plate text as readers compare it, the format name."""

    crop_bgr: np.ndarray
    text: str
    format_name: str

    @property
    def two_rows(self) -> bool:
        """Whether the plate is printed in two rows."""
        return "/" in TEXT_FORMATS[self.format_name][0]


class PlateSynthesizer:
    """Draws synthetic plate crops from a seeded generator (``sample``)."""

    def __init__(self, seed: int, font_paths: list[Path] | None = None):
        self._rng = np.random.default_rng(seed)
        self._fonts = _pillow_fonts(font_paths if font_paths is not None else _installed_fonts())
        names = list(TEXT_FORMATS)
        weights = np.array([TEXT_FORMATS[name][1] for name in names])
        self._format_names = names
        self._format_weights = weights / weights.sum()

    def sample(self) -> SynthSample:
        """A new degraded crop and its text."""
        name = self._format_names[int(self._rng.choice(len(self._format_names), p=self._format_weights))]
        printed = self._fill(TEXT_FORMATS[name][0])
        plate = self._draw_plate(printed, name)
        crop = degrade(place_in_surround(plate, self._rng), self._rng)
        return SynthSample(crop, normalise_plate(printed.replace("/", "")), name)

    def _fill(self, pattern: str) -> str:
        if pattern == "*":
            return self._us_mixed()
        pools = {"L": _LETTERS, "T": _TW_LETTERS, "D": _DIGITS, "X": _ALPHANUMERIC}
        return "".join(self._pick(pools[symbol]) if symbol in pools
                       else str(self._rng.choice(_RO_COUNTIES)) if symbol == "C" else symbol
                       for symbol in pattern)

    def _us_mixed(self) -> str:
        """A vanity-like US text: 5 to 8 letters and digits, sometimes split by a gap."""
        length = int(self._rng.integers(5, 9))
        text = "".join(self._pick(_ALPHANUMERIC) for _ in range(length))
        if length <= 7 and self._rng.random() < 0.6:
            split = int(self._rng.integers(2, length - 1))
            text = text[:split] + "-" + text[split:]
        return text

    def _pick(self, pool: str) -> str:
        return pool[int(self._rng.integers(len(pool)))]

    def _draw_plate(self, printed: str, format_name: str) -> np.ndarray:
        rows = printed.split("/")
        style = self._rng.random()
        if format_name.startswith("tw") and style < 0.3:
            return self._sim_plate(printed, len(rows))
        if format_name.startswith("eu"):
            return self._eu_plate(printed)
        aspect = TWO_ROW_ASPECT if len(rows) == 2 else float(self._rng.choice(SINGLE_ROW_ASPECTS))
        height_px = int(self._rng.integers(60, 120))
        width_px = int(height_px * aspect)
        background, ink = COLOUR_SCHEMES[int(self._rng.integers(len(COLOUR_SCHEMES)))]
        plate = np.empty((height_px, width_px, 3), np.uint8)
        plate[:] = background
        self._decorate(plate, ink, us_like=format_name.startswith("us"))
        use_ttf = self._fonts and self._rng.random() < 0.5
        text_top, text_height = self._text_band(height_px, format_name)
        row_height = text_height / len(rows)
        for index, row in enumerate(rows):
            row = self._separator(row)
            box = (width_px * self._rng.uniform(0.04, 0.1), text_top + index * row_height,
                   width_px * self._rng.uniform(0.8, 0.92), row_height * self._rng.uniform(0.82, 0.95))
            if use_ttf:
                self._draw_ttf(plate, row, box, ink)
            else:
                self._draw_hershey(plate, row, box, ink)
        return plate

    def _eu_plate(self, printed: str) -> np.ndarray:
        """A white EU plate: the blue band with its stars and country code on the left, black
        characters filling the rest, a thin black border (sometimes a dealer's frame below)."""
        rng = self._rng
        height_px = int(rng.integers(40, 110))
        width_px = int(height_px * float(rng.choice(EU_ASPECTS)))
        plate = np.empty((height_px, width_px, 3), np.uint8)
        plate[:] = (int(rng.integers(205, 250)),) * 3
        ink = (int(rng.integers(10, 50)),) * 3
        band_px = max(3, int(width_px * EU_BAND_SHARE * rng.uniform(0.85, 1.15)))
        plate[:, :band_px] = EU_BLUE
        stars_centre = (band_px // 2, int(height_px * 0.33))
        cv2.circle(plate, stars_centre, max(1, int(band_px * 0.32)), (0, 200, 240), max(1, height_px // 40),
                   cv2.LINE_AA)
        cv2.putText(plate, "RO", (int(band_px * 0.1), int(height_px * 0.85)), cv2.FONT_HERSHEY_SIMPLEX,
                    band_px / 45, (235, 238, 238), max(1, height_px // 45), cv2.LINE_AA)
        cv2.rectangle(plate, (0, 0), (width_px - 1, height_px - 1), ink, max(1, height_px // 30), cv2.LINE_AA)
        row = printed.replace("-", str(rng.choice([" ", " ", "  ", "·", "-"])), 1).replace("-", " ")
        box = (band_px + width_px * rng.uniform(0.02, 0.05), height_px * rng.uniform(0.08, 0.16),
               (width_px - band_px) * rng.uniform(0.86, 0.94), height_px * rng.uniform(0.72, 0.84))
        if self._fonts and rng.random() < 0.6:
            self._draw_ttf(plate, row, box, ink)
        else:
            self._draw_hershey(plate, row, box, ink)
        return plate

    def _sim_plate(self, printed: str, rows: int) -> np.ndarray:
        """The plate exactly as the simulator draws it (scooters in two rows)."""
        kind = "scooter" if rows == 2 else str(self._rng.choice(["car", "truck", "bus"]))
        size_m = (0.21, 0.14) if kind == "scooter" else (0.38, 0.16)
        text = printed.replace("/", "-")
        return plate_patches(text, kind, size_m)[int(self._rng.integers(1, 3))]

    def _text_band(self, height_px: int, format_name: str) -> tuple[float, float]:
        """Top and height of the band the characters fill (US plates keep room for a header)."""
        if format_name.startswith("us") and self._rng.random() < 0.7:
            return height_px * 0.27, height_px * 0.55
        return height_px * 0.1, height_px * 0.8

    def _separator(self, row: str) -> str:
        """The row as printed: the format's hyphen as a hyphen, a dot, a space or nothing."""
        return row.replace("-", str(self._rng.choice(["-", "-", " ", "  ", "·", ""])))

    def _decorate(self, plate: np.ndarray, ink, *, us_like: bool) -> None:
        """Border, and for US-like plates a state name, a slogan and a coloured band or emblem."""
        height_px, width_px = plate.shape[:2]
        rng = self._rng
        if rng.random() < 0.7:
            cv2.rectangle(plate, (1, 1), (width_px - 2, height_px - 2), ink, max(1, height_px // 40), cv2.LINE_AA)
        if not us_like:
            return
        accent = tuple(int(v) for v in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            top = int(height_px * rng.uniform(0.0, 0.2))
            cv2.rectangle(plate, (0, top), (width_px, top + max(2, height_px // 12)), accent, -1)
        word = str(rng.choice(_US_WORDS))
        for top, scale in ((0.2, 0.0075), (0.95, 0.0055)):
            if rng.random() < 0.75:
                font = _HERSHEY_FONTS[int(rng.integers(len(_HERSHEY_FONTS)))]
                cv2.putText(plate, word, (int(width_px * rng.uniform(0.1, 0.35)), int(height_px * top)),
                            font | (cv2.FONT_ITALIC if rng.random() < 0.4 else 0), height_px * scale,
                            accent, max(1, height_px // 45), cv2.LINE_AA)
                word = str(rng.choice(_US_WORDS))
        if rng.random() < 0.3:
            centre = (int(width_px * rng.uniform(0.35, 0.65)), int(height_px * 0.5))
            cv2.circle(plate, centre, int(height_px * rng.uniform(0.12, 0.25)), accent, -1, cv2.LINE_AA)

    def _draw_hershey(self, plate: np.ndarray, text: str, box, ink) -> None:
        font = _HERSHEY_FONTS[int(self._rng.integers(len(_HERSHEY_FONTS)))]
        thickness = int(self._rng.integers(2, 6))
        text = text.replace("·", "-")
        (text_w, text_h), _ = cv2.getTextSize(text, font, 2.0, thickness)
        canvas = np.zeros((text_h + 2 * thickness + 4, text_w + 2 * thickness + 4), np.uint8)
        cv2.putText(canvas, text, (thickness + 2, text_h + thickness + 2), font, 2.0, 255, thickness, cv2.LINE_AA)
        _paint_mask(plate, canvas, box, ink)

    def _draw_ttf(self, plate: np.ndarray, text: str, box, ink) -> None:
        from PIL import Image, ImageDraw

        font = self._fonts[int(self._rng.integers(len(self._fonts)))]
        left, top, right, bottom = font.getbbox(text)
        image = Image.new("L", (right - left + 4, bottom - top + 4), 0)
        ImageDraw.Draw(image).text((2 - left, 2 - top), text, fill=255, font=font)
        _paint_mask(plate, np.asarray(image), box, ink)


def place_in_surround(plate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The plate on a vehicle-like surround, warped in perspective and cropped with an uneven
    margin (what a detector's box plus margin gives the reader)."""
    height_px, width_px = plate.shape[:2]
    margin_x, margin_y = int(width_px * 0.35), int(height_px * 0.6)
    canvas_size = (width_px + 2 * margin_x, height_px + 2 * margin_y)
    body = rng.integers(0, 256, 3)
    canvas = np.empty((canvas_size[1], canvas_size[0], 3), np.uint8)
    canvas[:] = body
    noise = cv2.resize(rng.normal(0, 25, (8, 8)).astype(np.float32), canvas_size)
    canvas = np.clip(canvas.astype(np.float32) + noise[..., None], 0, 255).astype(np.uint8)
    canvas[margin_y:margin_y + height_px, margin_x:margin_x + width_px] = plate
    corners = np.array([[0, 0], [width_px, 0], [width_px, height_px], [0, height_px]], np.float32)
    corners += (margin_x, margin_y)
    jitter = rng.uniform(-0.07, 0.07, (4, 2)) * (width_px, height_px)
    shear = rng.uniform(-0.08, 0.08) * height_px
    target = corners + jitter + np.array([[shear, 0], [shear, 0], [-shear, 0], [-shear, 0]]) * 0.5
    warp = cv2.getPerspectiveTransform(corners, target.astype(np.float32))
    warped = cv2.warpPerspective(canvas, warp, canvas_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    x1, y1 = target.min(axis=0)
    x2, y2 = target.max(axis=0)
    pad_w, pad_h = (x2 - x1), (y2 - y1)
    left = x1 - pad_w * rng.uniform(-0.02, 0.12)
    right = x2 + pad_w * rng.uniform(-0.02, 0.12)
    top = y1 - pad_h * rng.uniform(-0.03, 0.25)
    bottom = y2 + pad_h * rng.uniform(-0.03, 0.25)
    x1, y1 = max(0, int(left)), max(0, int(top))
    x2, y2 = min(canvas_size[0], int(np.ceil(right))), min(canvas_size[1], int(np.ceil(bottom)))
    return warped[y1:y2, x1:x2]


def degrade(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera and weather damage: low resolution, blur, glare, night, dirt, noise, JPEG."""
    image = crop.astype(np.float32)
    height_px, width_px = image.shape[:2]
    if rng.random() < 0.3:
        image = _dirt(image, rng)
    if rng.random() < 0.25:
        image = _glare(image, rng)
    if rng.random() < 0.25:
        image = image * rng.uniform(0.15, 0.5) + rng.uniform(0, 15)
    elif rng.random() < 0.4:
        image = image * rng.uniform(0.6, 1.2) + rng.uniform(-30, 30)
    if rng.random() < 0.4:
        sigma = rng.uniform(0.3, 1.8)
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    if rng.random() < 0.15:
        length = int(rng.integers(3, 8))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        image = cv2.filter2D(image, -1, kernel)
    # A third of the plates as small as the smallest an enforcement camera reads (about 30 px).
    target_w = int(rng.uniform(28, 60) if rng.random() < 0.3 else rng.uniform(40, 200))
    if target_w < width_px:
        target_h = max(8, int(height_px * target_w / width_px))
        image = cv2.resize(image, (target_w, target_h), interpolation=cv2.INTER_AREA)
    image += rng.normal(0, rng.uniform(0, 12), image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        quality = int(rng.integers(20, 95))
        image = cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)
    return image


def _dirt(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brown-grey smudges of random opacity."""
    height_px, width_px = image.shape[:2]
    mask = np.zeros((height_px, width_px), np.float32)
    for _ in range(int(rng.integers(2, 10))):
        centre = (int(rng.integers(width_px)), int(rng.integers(height_px)))
        axes = (int(rng.integers(2, max(3, width_px // 6))), int(rng.integers(2, max(3, height_px // 4))))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.2, 0.7)), -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 2.0)[..., None]
    return image * (1 - mask) + np.array([60, 80, 95], np.float32) * mask


def _glare(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bright elliptical highlight, as a low sun or a headlight leaves on a reflective plate."""
    height_px, width_px = image.shape[:2]
    ys, xs = np.mgrid[0:height_px, 0:width_px].astype(np.float32)
    centre_x, centre_y = rng.uniform(0, width_px), rng.uniform(0, height_px)
    spread = rng.uniform(0.15, 0.5)
    distance = ((xs - centre_x) / (width_px * spread)) ** 2 + ((ys - centre_y) / (height_px * spread)) ** 2
    return image + rng.uniform(80, 220) * np.exp(-distance)[..., None]


def _paint_mask(plate: np.ndarray, mask: np.ndarray, box, ink) -> None:
    """Blend ``ink`` into ``plate`` through ``mask`` (0..255) stretched to fill ``box``."""
    x, y, w, h = (int(round(v)) for v in box)
    h = min(h, plate.shape[0] - y)
    w = min(w, plate.shape[1] - x)
    alpha = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255.0
    region = plate[y:y + h, x:x + w].astype(np.float32)
    plate[y:y + h, x:x + w] = (region * (1 - alpha) + np.asarray(ink, np.float32) * alpha).astype(np.uint8)


def _installed_fonts() -> list[Path]:
    """Bold and condensed sans TrueType fonts on this machine (plate typefaces look like them)."""
    found = []
    for folder in _FONT_DIRS:
        if folder.is_dir():
            found += [path for path in sorted(folder.rglob("*.ttf"))
                      if "Sans" in path.name and ("Bold" in path.name or "Condensed" in path.name)
                      and "Oblique" not in path.name and "Italic" not in path.name]
    return found


def _pillow_fonts(paths: list[Path]) -> list:
    """Pillow fonts loaded from ``paths``; none when Pillow is not installed."""
    try:
        from PIL import ImageFont
    except ImportError:
        return []
    return [ImageFont.truetype(str(path), 96) for path in paths]
