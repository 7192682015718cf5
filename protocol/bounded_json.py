"""JSON from the network, parsed with a size and a depth limit before anything else.

``json.loads`` recurses once per nesting level: ``b"[" * 100000`` raises RecursionError, and a
few megabytes of digits make an integer Python takes seconds to convert. Every payload a
device or the collector receives (commands, the hotlist, acks, health summaries) goes through
:func:`loads_bounded` first, which refuses such input with :class:`HostileJSON` (a
``ValueError``) without ever calling the parser on it:

- more than ``max_bytes`` bytes;
- not UTF-8;
- nesting deeper than ``max_depth`` (counted over brackets outside strings, in one pass);
- NaN, infinities and numbers too large for a float (they cannot be stored or compared);
- an integer literal longer than ``max_digits`` digits.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Defaults fit every roadcam message with room to spare: commands and acks nest three or four
#: levels deep, a hotlist entry five.
DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_DIGITS = 40

_OPEN = frozenset(b"[{")
#: A JSON string literal (an unterminated one runs to the end), and every byte but a bracket.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


class HostileJSON(ValueError):
    """A payload that is not bounded JSON; the message says which limit it broke."""


def loads_bounded(payload: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                  max_depth: int = DEFAULT_MAX_DEPTH, max_digits: int = DEFAULT_MAX_DIGITS) -> Any:
    """The JSON value in ``payload``; :class:`HostileJSON` when it breaks a limit or is not JSON."""
    data = payload.encode() if isinstance(payload, str) else bytes(payload)
    if len(data) > max_bytes:
        raise HostileJSON(f"{len(data)} bytes, above the limit of {max_bytes}")
    depth = _nesting_depth(data)
    if depth > max_depth:
        raise HostileJSON(f"nested {depth} levels deep, above the limit of {max_depth}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise HostileJSON("not UTF-8") from None

    def refuse_constant(name: str) -> Any:
        raise HostileJSON(f"{name} is not JSON")

    def bounded_int(digits: str) -> int:
        if len(digits.lstrip("-")) > max_digits:
            raise HostileJSON(f"an integer of {len(digits)} digits, above the limit of {max_digits}")
        return int(digits)

    def finite_float(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise HostileJSON(f"the number {literal[:40]} is out of range")
        return value

    try:
        return json.loads(text, parse_constant=refuse_constant, parse_int=bounded_int,
                          parse_float=finite_float)
    except HostileJSON:
        raise
    except (ValueError, RecursionError) as exc:  # RecursionError only if max_depth is set absurdly high
        raise HostileJSON(f"not JSON ({exc})") from None


def _nesting_depth(data: bytes) -> int:
    """The deepest bracket nesting of ``data``, ignoring brackets inside strings (strings are
    cut out by a regular expression, so only the brackets are walked in Python)."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest
