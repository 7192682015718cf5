"""What every roadcam command line shares: ``roadcam`` on a device, ``roadcam-collector`` centrally."""

from __future__ import annotations

import argparse
import logging
import sys

from .errors import ConfigError, RoadcamError


def run_command(program: str, parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse, set up logging, run the chosen handler; expected errors become one clear message
    and exit 2 (a config error lists each problem on its own line), or the error's own
    ``exit_code``; Ctrl-C exits 130."""
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        for problem in exc.problems if exc.problems != [str(exc)] else []:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except RoadcamError as exc:
        print(f"{program}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
