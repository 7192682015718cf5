"""Every hook a roadcam plugin can implement. Each spec's docstring is its documentation.

Rules: hooks are called with keyword arguments only; every name starts with ``roadcam_``;
``firstresult`` is used only where one answer settles the call. All hooks except
``roadcam_event`` run on the analysis thread, so plugins never race each other; a plugin that
keeps state is a class instance registered from ``roadcam_configure``. The runtime calls each
plugin's implementation on its own: one that raises loses only its own answer and gets a
``plugin.error`` fault (component ``plugin/hook``), and a hook wrapper wraps only its own
plugin's implementation. ``roadcam_register_commands`` is the exception: it is called when the
``roadcam`` command line is built, before there is any appliance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover - for type checkers and readers only
    import argparse

    from roadcam.hal.base import Frame
    from roadcam.protocol.events import Event

    from .events import EventDraft
    from .geometry import RoadGeometry
    from .runtime import Appliance, SignalView
    from .tracking import Detection, Track

PROJECT = "roadcam"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def roadcam_config_section() -> tuple[str, type] | None:
    """Return ``(section_name, pydantic_model)`` for the plugin's own part of the site config.

    The model should use ``extra="forbid"`` and give every field a title and description. The
    validated section is available as ``appliance.config.section(section_name)``. Every field
    must have a default, so a site config may leave the section out.
    """


@hookspec
def roadcam_configure(appliance: Appliance) -> None:
    """Called once the config is valid and the store is open, before the first frame.

    Read your config section, build your state, and register stateful helpers with
    ``appliance.plugin_manager.register(obj)``.
    """


@hookspec
def roadcam_finish(appliance: Appliance) -> list[EventDraft]:
    """Called once on shutdown after the last frame and edge, before the outbox drains and
    before ``roadcam_unconfigure``: return the events still open (a violation waiting for its
    plate, a passage, a held speed), so they are stored and delivered with the rest."""


@hookspec
def roadcam_unconfigure(appliance: Appliance) -> None:
    """Called once on shutdown after the last frame; release what ``roadcam_configure`` took."""


@hookspec
def roadcam_detect(frame: Frame, geometry: RoadGeometry | None) -> list[Detection]:
    """Find objects in one frame. Every detector's list is merged before tracking.

    ``geometry`` maps the camera's pixels to road metres (None when the camera is not
    calibrated). Return an empty list when nothing is there.
    """


@hookspec
def roadcam_analyze(frame: Frame, tracks: list[Track], signals: dict[str, SignalView]) -> list[EventDraft]:
    """Look at one frame after tracking and return the events it shows (may be empty).

    ``tracks`` are the camera's live tracks updated with this frame; ``signals`` maps each
    signal head to its state and the time it entered that state.
    """


@hookspec
def roadcam_track_finished(track: Track) -> list[EventDraft]:
    """A track has left the view (or was lost for good). Return its final events, if any."""


@hookspec
def roadcam_signal_changed(head: str, state: str, time_ns: int) -> list[EventDraft]:
    """A signal head changed state at ``time_ns`` (UTC ns from the lamp edge). May return events."""


@hookspec
def roadcam_lamps_changed(head: str, lit: tuple[str, ...], time_ns: int) -> list[EventDraft]:
    """A lamp of a signal head went on or off at ``time_ns`` (UTC ns from the edge); ``lit`` is
    every lamp lit now, most restrictive first (``("red", "green")`` when both are). Called once
    at start with the lamps lit then. For lamp checks; ``roadcam_signal_changed`` gives the
    state. May return events."""


@hookspec
def roadcam_loop_changed(loop: str, occupied: bool, time_ns: int) -> list[EventDraft]:
    """An induction loop changed at ``time_ns`` (UTC ns from the pin's edge tick). May return events."""


@hookspec
def roadcam_collect_health(appliance: Appliance) -> dict[str, Any]:
    """Return health figures as ``{section: figures}``; all answers are merged into a ``health``
    event."""


@hookspec
def roadcam_tick(now_ns: int) -> list[EventDraft]:
    """Called about once a second (``runtime.TICK_INTERVAL_S`` of the appliance's clock) whether
    frames and edges arrive or not: for checks of things that stop happening (a camera that sends
    nothing, a lamp left dark). ``now_ns`` is the clock's UTC now. May return events."""


@hookspec(firstresult=True)
def roadcam_command(name: str, payload: dict[str, Any], version: int) -> dict[str, Any] | None:
    """Handle a command for the device. Return its result when the command is yours, else None.

    ``version`` is the signed command's version (it rises with every command of that name; 0
    for a command given locally, on a bench). The first plugin that returns a result settles
    the call.
    """


@hookspec
def roadcam_event(event: Event) -> None:
    """An event has been committed to the store. Observers only: runs on the thread that stored
    it, must be quick and must not raise."""


@hookspec
def roadcam_register_commands(commands: argparse._SubParsersAction) -> None:
    """Add the plugin's own subcommands to the ``roadcam`` command line.

    ``commands`` is the ``roadcam`` parser's subparsers object: add each command with
    ``parser = commands.add_parser(name, help=...)`` and set its handler with
    ``parser.set_defaults(handler=function)``. The handler gets the parsed ``argparse.Namespace``
    (``args.verbose`` is set; logging is configured) and returns the exit status (0 for
    success). An expected failure raises ``ConfigError`` or another ``RoadcamError``: the
    command line prints it as one clear message and exits 2.

    Called once per command line, before any site config is read (there is no appliance and
    no config section), for every installed plugin that is not disabled by
    ``ROADCAM_DISABLE_PLUGINS``. Keep it cheap: import what the command needs inside its
    handler, so that ``roadcam --help`` and the core's own commands stay fast. A command name
    that is already taken, or any error here, loses that plugin's commands only (with a warning
    on stderr); the core's commands (``run``, ``config``, ``events``) always remain. Plugins that
    only add commands (the simulator's ``simulate``) are listed in
    ``roadcam.appliance.plugins.COMMAND_PLUGINS`` and never loaded into a running appliance.
    """
