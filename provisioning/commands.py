"""The technician's commands, added to the ``roadcam`` command line through the
``roadcam_register_commands`` hook (a command-line-only plugin, listed in
``roadcam.appliance.plugins.COMMAND_PLUGINS``; never loaded into a running appliance).

    roadcam install-units [--root DIR] [--role device|collector]   put the systemd units in place

Importing this module imports nothing but the hook marker: each handler imports what it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from roadcam.appliance.hookspecs import hookimpl


class ProvisioningCommands:
    """The plugin: adds ``install-units``."""

    @hookimpl
    def roadcam_register_commands(self, commands) -> None:
        from .units import CHECKOUT_UNITS

        units = commands.add_parser("install-units", help="install the systemd units, users and folders")
        units.add_argument("--root", type=Path, default=Path("/"), help="install into this root (default /)")
        units.add_argument("--role", choices=("device", "collector"), default="device",
                           help="which units: the appliance's (device) or the collector's")
        units.add_argument("--bin-dir", default=str(Path(sys.executable).parent),
                           help="where the roadcam commands are, as seen inside the root "
                                "(default: beside this Python, %(default)s)")
        units.add_argument("--units", type=Path, default=CHECKOUT_UNITS, help="folder of the shipped units")
        units.add_argument("--no-apply", action="store_true",
                           help="only write the files (no sysusers, tmpfiles or enable)")
        units.set_defaults(handler=install_units_command)


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
