"""``roadcam fence preview --config FILE [--image IMG] [--camera NAME] [--out PNG]``: the fences
of a site config drawn over a camera snapshot (or over a plain grey picture of the camera's
size), into a PNG. Imports OpenCV only when run."""

from __future__ import annotations

from pathlib import Path


def register(commands) -> None:
    fence = commands.add_parser("fence", help="electronic fences: preview them over a picture")
    sub = fence.add_subparsers(dest="fence_command", required=True)
    preview = sub.add_parser("preview", help="draw a site's fences over a snapshot into a PNG")
    preview.add_argument("--config", required=True, type=Path, help="site config with a fences: section")
    preview.add_argument("--image", type=Path, help="camera snapshot (a simulator frame will do); "
                                                    "default: a grey picture of 1920x1080")
    preview.add_argument("--camera", help="which camera's fences (default: the first camera with fences)")
    preview.add_argument("--out", type=Path, default=Path("fences.png"), help="PNG to write (default fences.png)")
    preview.set_defaults(handler=preview_command)


def preview_command(args) -> int:
    import cv2
    import numpy as np

    from roadcam.appliance.site import load_site
    from roadcam.common.errors import ConfigError

    from .config import SECTION
    from .preview import draw_fences

    config, _ = load_site(args.config)
    section = config.section(SECTION)
    if not section.cameras:
        raise ConfigError(f"{args.config}: {SECTION}.cameras is empty: there are no fences to draw")
    fences = next((c for c in section.cameras if args.camera in (None, c.camera)), None)
    if fences is None:
        names = ", ".join(c.camera for c in section.cameras)
        raise ConfigError(f"--camera {args.camera}: no fences for that camera in {args.config} (cameras: {names})")
    if args.image is not None:
        image = cv2.imread(str(args.image), cv2.IMREAD_COLOR)
        if image is None:
            raise ConfigError(f"--image {args.image}: not a picture OpenCV can read")
    else:
        image = np.full((1080, 1920, 3), 96, np.uint8)
    if not cv2.imwrite(str(args.out), draw_fences(image, fences)):
        raise ConfigError(f"--out {args.out}: could not write the PNG there")
    print(f"{args.out}: fences of camera {fences.camera} over {args.image or 'a grey 1920x1080 picture'}")
    return 0
