"""Config files: YAML read with its node tree, validated by a pydantic model, every error with
its field path and file line.

Both the device's site config (:mod:`roadcam.appliance.config`) and the collector's config
(:mod:`roadcam.collector.config`) are read and checked through :func:`load_yaml` and
:func:`validate_config`, so a mistake is reported the same way on either side.

A check across sections (a model validator on the whole config, such as a speed pair naming a
site loop) has no field of its own in pydantic's error; it names the field at fault at the start
of its message (``speed.pairs[0].downstream: no loop named ...``), and that path, when the file
has its first part, is the problem's path and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from .errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)

#: A whole-config validator's message that starts with the field path at fault.
_PATH_FIRST = re.compile(r"(?:Value error, )?([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*): (.+)", re.S)
_PATH_PART = re.compile(r"\[(\d+)\]|\.?([A-Za-z_][\w-]*)")

#: Error type of a problem with a file a field names. Its message names the file, so the
#: field's value is not repeated after it.
FILE_PROBLEM = "file_problem"


def file_problem(message: str) -> PydanticCustomError:
    """The validation error for a file that is not what its field needs."""
    return PydanticCustomError(FILE_PROBLEM, "{problem}", {"problem": message})


def loadable_file(load: Callable[[Path], object]) -> AfterValidator:
    """A validator for a field naming a file (None allowed) that ``load`` must accept: the
    ConfigError it raises becomes the field's problem, with the field's path and line."""

    def check(path: Path | None) -> Path | None:
        if path is not None:
            try:
                load(path)
            except ConfigError as exc:
                raise file_problem(str(exc)) from None
        return path

    return AfterValidator(check)


def load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Read a YAML file: its data and its node tree (for line numbers). Errors name the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    return data, node


def validate_config(model: type[Model], data: Any, node: yaml.Node | None = None,
                    source: str = "config") -> Model:
    """Validate data against a config model (the site's or the collector's); on failure raise
    ConfigError listing every problem as ``source:line: field.path: message``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping of sections (device:, cameras:, …)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc, message = [part for part in error["loc"]], _explain(error)
            if not loc:
                loc, message = _path_in_message(error["msg"], data) or (loc, message)
            line = _line_of(node, loc)
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {_dotted(loc) or '(top)'}: {message}")
        raise ConfigError(f"{source}: {len(problems)} problem(s) in the config", problems) from None


def _path_in_message(message: str, data: dict) -> tuple[list, str] | None:
    """(field path, rest of the message) of a whole-config problem whose message starts with a
    path whose first part is a key of the file; else None."""
    match = _PATH_FIRST.fullmatch(message)
    if match is None:
        return None
    loc: list = [int(index) if index else name for index, name in _PATH_PART.findall(match[1])]
    return (loc, match[2]) if loc and loc[0] in data else None


def _dotted(loc: list) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _explain(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (check its spelling and indentation)"
    if error["type"] == "missing":
        return "required field is missing"
    message = error["msg"]
    if ("input" in error and error["type"] not in ("union_tag_invalid", FILE_PROBLEM)
            and not isinstance(error["input"], (dict, list))):
        message += f" (got {error['input']!r})"
    return message


def _line_of(node: yaml.Node | None, loc: list) -> int | None:
    """Line (1-based) of the deepest YAML key or item the error path reaches.

    A path part that is not in the file (a missing field, a union tag) keeps the line reached so
    far, which is the mapping the field belongs in.
    """
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match:
                line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
    return line
