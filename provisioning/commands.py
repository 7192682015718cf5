"""The technician's commands, added to the ``roadcam`` command line through the
``roadcam_register_commands`` hook (a command-line-only plugin, listed in
``roadcam.appliance.plugins.COMMAND_PLUGINS``; never loaded into a running appliance).

    roadcam install-units [--root DIR] [--role device|collector]   put the systemd units in place
    roadcam provision --device ID --site SITE --broker HOST[:PORT] [--response FILE] ...
                                              keys, enrolment, broker check, the site config
    roadcam calibrate --config FILE [--image PNG] [--image-points ... --road-points ...]
                                              snapshot, homography, overlay PNG to check
    roadcam selftest --config FILE [--simulate-inputs] [--report HTML]
                                              every part checked; the commissioning report

Importing this module imports nothing but the hook marker: each handler imports what it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from roadcam.appliance.hookspecs import hookimpl


class ProvisioningCommands:
    """The plugin: adds ``install-units``, ``provision``, ``calibrate`` and ``selftest``."""

    @hookimpl
    def roadcam_register_commands(self, commands) -> None:
        from .units import SHIPPED_UNITS

        units = commands.add_parser("install-units", help="install the systemd units, users and folders")
        units.add_argument("--root", type=Path, default=Path("/"), help="install into this root (default /)")
        units.add_argument("--role", choices=("device", "collector"), default="device",
                           help="which units: the appliance's (device) or the collector's")
        units.add_argument("--bin-dir", default=str(Path(sys.executable).parent),
                           help="where the roadcam commands are, as seen inside the root "
                                "(default: beside this Python, %(default)s)")
        units.add_argument("--units", type=Path, default=SHIPPED_UNITS,
                           help="folder of the units to install (default: those shipped with roadcam, %(default)s)")
        units.add_argument("--no-apply", action="store_true",
                           help="only write the files (no sysusers, tmpfiles or enable)")
        units.set_defaults(handler=install_units_command)

        provision = commands.add_parser("provision", help="enrol the device and write its site config")
        provision.add_argument("--device", required=True, help="device id, e.g. tn-0042 (its certificate's CN)")
        provision.add_argument("--site", required=True, help="site id, e.g. tn-yongkang-01")
        provision.add_argument("--location", metavar="'LAT,LON [DESCRIPTION]'",
                               help="where the box is: decimal degrees, then optionally a description "
                                    "(device.location of the site config)")
        provision.add_argument("--camera", help="camera source: picamera2[:N], an rtsp:// URL, /dev/videoN or a file")
        provision.add_argument("--broker", required=True, metavar="HOST[:PORT]", help="the MQTT broker (TLS)")
        provision.add_argument("--response", type=Path, metavar="FILE",
                               help="the central office's answer to this device's request")
        provision.add_argument("--enrol-url", metavar="https://HOST:PORT",
                               help="enrol online at the collector host's enrolment service")
        provision.add_argument("--enrol-token", help="the one-time token the central office issued for this device")
        provision.add_argument("--enrol-ca", type=Path, help="the central CA's certificate (to trust the service)")
        provision.add_argument("--config", type=Path, default=Path("/etc/roadcam/site.yaml"),
                               help="site config to write (default %(default)s)")
        provision.add_argument("--keys", type=Path, default=Path("/etc/roadcam/keys"),
                               help="folder of the device's keys and certificates (default %(default)s)")
        provision.add_argument("--storage", type=Path, default=Path("/var/lib/roadcam"),
                               help="state folder for a new config's store (default %(default)s)")
        provision.add_argument("--pin-factory", default="lgpio", help="gpio.pin_factory of a new config")
        provision.add_argument("--broker-timeout", type=float, default=10.0, help="seconds to wait for the broker")
        provision.set_defaults(handler=provision_command)

        calibrate = commands.add_parser("calibrate", help="snapshot, road-plane calibration and overlay PNG")
        calibrate.add_argument("--config", type=Path, default=Path("/etc/roadcam/site.yaml"),
                               help="site config (default %(default)s)")
        calibrate.add_argument("--camera", help="camera name (default: the first)")
        calibrate.add_argument("--image", type=Path, help="use this snapshot instead of taking one from the camera")
        calibrate.add_argument("--image-points", metavar="'X,Y X,Y X,Y X,Y'",
                               help="pixel positions of four road marks in the snapshot")
        calibrate.add_argument("--road-points", metavar="'X,Y X,Y X,Y X,Y'",
                               help="the same marks on the road, metres (x across, y along)")
        calibrate.add_argument("--lane-width", type=float, default=3.5, help="lane width for drawing loops (m)")
        calibrate.add_argument("--out", type=Path, default=Path("calibration"),
                               help="folder for snapshot.png, overlay.png, calibration.json (default %(default)s)")
        calibrate.set_defaults(handler=calibrate_command)

        selftest = commands.add_parser("selftest", help="check cameras, inputs, serial, broker, clock and disk; "
                                                        "write the commissioning report")
        selftest.add_argument("--config", type=Path, default=Path("/etc/roadcam/site.yaml"),
                              help="site config (default %(default)s); stop the appliance first")
        selftest.add_argument("--simulate-inputs", action="store_true",
                              help="toggle lamp and loop inputs by simulation (gpio.pin_factory: mock only)")
        selftest.add_argument("--input-timeout", type=float, default=30.0,
                              help="seconds the technician has to toggle each input (default %(default)s)")
        selftest.add_argument("--camera-frames", type=int, default=25, help="frames read from each camera")
        selftest.add_argument("--min-sharpness", type=float,
                              help="focus threshold: sharpness over that of the picture blurred (default 1.5)")
        selftest.add_argument("--report", type=Path, default=Path("commissioning.html"),
                              help="the report to write (default %(default)s; a PDF beside it when possible)")
        selftest.set_defaults(handler=selftest_command)


plugin = ProvisioningCommands()


def install_units_command(args) -> int:
    from .units import install_units

    installation = install_units(args.root, role=args.role, bin_dir=args.bin_dir, units_dir=args.units,
                                 apply=not args.no_apply, progress=lambda line: print(line, flush=True))
    if installation.enabled:
        print(f"enabled: {', '.join(installation.enabled)}")
    if args.root == Path("/"):
        print("start it with: systemctl start " + ("roadcam" if args.role == "device" else "roadcam-collector"))
    return 0


def provision_command(args) -> int:
    from roadcam.common.errors import ConfigError

    from .provision import ProvisionRequest, parse_location, provision

    host, _, port = args.broker.rpartition(":") if ":" in args.broker else (args.broker, "", "8883")
    if not port.isdigit():
        raise ConfigError(f"--broker {args.broker!r}: the port after ':' must be a number")
    provision(ProvisionRequest(
        config_file=args.config, keys_dir=args.keys, device=args.device, site=args.site, broker_host=host,
        broker_port=int(port), location=parse_location(args.location) if args.location else None,
        camera=args.camera, response_file=args.response,
        storage_dir=args.storage, pin_factory=args.pin_factory, broker_timeout_s=args.broker_timeout,
        enrol_url=args.enrol_url, enrol_token=args.enrol_token, enrol_ca=args.enrol_ca),
        progress=lambda line: print(line, flush=True))
    return 0


def calibrate_command(args) -> int:
    """Snapshot; without points, stop there (or check the stored calibration); with points,
    check them, compute the homography, draw the overlay and store the calibration."""
    import cv2
    import yaml

    from roadcam.appliance.site import load_site, site_from_data
    from roadcam.common.errors import ConfigError

    from .calibration import calibrate, camera_index, parse_points, take_snapshot, with_calibration, write_record
    from .overlay import draw_overlay
    from .site_write import running_config, write_site

    config, _ = load_site(args.config)
    index = camera_index(config, args.camera)
    camera = config.cameras[index]
    if args.image is not None:
        image = cv2.imread(str(args.image))
        if image is None:
            raise ConfigError(f"--image {args.image}: not a picture OpenCV can read")
    else:
        print(f"taking a snapshot from camera {camera.name} ...", flush=True)
        image = take_snapshot(config, index)
    args.out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out / "snapshot.png"), image)
    print(f"snapshot: {args.out / 'snapshot.png'} ({image.shape[1]}x{image.shape[0]})")
    if args.image_points is None and args.road_points is None:
        if camera.calibration is None:
            print("measure four road marks (no three on a line), read their pixels off the snapshot, then run "
                  "again with --image-points and --road-points")
            return 0
        image_points, road_points, store = camera.calibration.image_points, camera.calibration.road_points, False
    elif args.image_points is None or args.road_points is None:
        raise ConfigError("give both --image-points and --road-points (the same marks, in the same order)")
    else:
        image_points = parse_points(args.image_points, "--image-points")
        road_points = parse_points(args.road_points, "--road-points")
        store = True
    calibration = calibrate(camera.name, image_points, road_points, (image.shape[1], image.shape[0]))
    if store:
        running = running_config(args.config)
        data = with_calibration(running.data, index, calibration)
        site_from_data(data, source=f"{args.config} with the new calibration")
    cv2.imwrite(str(args.out / "overlay.png"), draw_overlay(image, config, index, calibration, args.lane_width))
    write_record(args.out / "calibration.json", calibration)
    print(f"overlay: {args.out / 'overlay.png'} (check that the grid lies flat on the road)")
    if store:
        write_site(args.config, running, (config.device.id, config.device.site),
                   yaml.safe_dump(data, sort_keys=False), lambda line: print(line, flush=True))
    return 0


def selftest_command(args) -> int:
    """Run the self-test, write the report; exit 0 when every check passed, 1 otherwise."""
    from roadcam.appliance.clock import Clock
    from roadcam.appliance.site import load_site
    from roadcam.common.errors import ConfigError
    from roadcam.hal.hardware import Hardware

    from .calibration import calibrate
    from .overlay import draw_overlay
    from .report import write_report
    from .selftest import FAIL, MIN_SHARPNESS, PASS, Check, MockToggler, run_selftest

    config, _ = load_site(args.config)
    pin_factory = toggle = None
    if args.simulate_inputs:
        if config.gpio.pin_factory != "mock":
            raise ConfigError("--simulate-inputs: only on gpio.pin_factory: mock (a bench); on real pins the "
                              "technician toggles each input when asked")
        from gpiozero.pins.mock import MockFactory

        pin_factory = MockFactory()
        toggle = MockToggler(pin_factory, config)
    hardware = Hardware(config, Clock(), pin_factory=pin_factory)
    try:
        result = run_selftest(config, hardware, toggle=toggle, prompt=lambda line: print(line, flush=True),
                              input_timeout_s=args.input_timeout, camera_frames=args.camera_frames,
                              min_sharpness=args.min_sharpness if args.min_sharpness is not None else MIN_SHARPNESS)
    finally:
        hardware.close()
    overlays = {}
    for index, camera in enumerate(config.cameras):
        if camera.calibration is None or camera.name not in result.snapshots:
            continue
        image = result.snapshots[camera.name]
        try:
            calibration = calibrate(camera.name, camera.calibration.image_points, camera.calibration.road_points,
                                    (image.shape[1], image.shape[0]))
        except ConfigError as exc:
            result.checks.append(Check(f"camera {camera.name}: calibration", FAIL, str(exc), "run roadcam calibrate"))
            continue
        overlays[camera.name] = draw_overlay(image, config, index, calibration)
        result.checks.append(Check(f"camera {camera.name}: calibration", PASS,
                                   f"homography from {len(calibration.image_points)} marks; see the overlay"))
    for check in result.checks:
        print(f"{check.status.upper():4}  {check.name} — {check.detail}" + (f" → {check.fix}" if check.fix else ""))
    pdf = write_report(args.report, config, result, overlays)
    print(f"report: {args.report}" + (f" and {pdf}" if pdf else " (no PDF converter installed)"))
    return 0 if result.passed else 1
