"""Network JSON is refused before parsing when it is too big, too deep or holds numbers that
cannot be stored; ordinary JSON parses as json.loads would."""

import pytest

from roadcam.protocol.bounded_json import HostileJSON, loads_bounded


def test_ordinary_json_parses_as_json_loads_would():
    assert loads_bounded(b'{"a": [1, 2.5, {"b": "[[[[{{"}], "c": "\\"]"}') == {
        "a": [1, 2.5, {"b": "[[[[{{"}], "c": '"]'}


@pytest.mark.parametrize("payload, complaint", [
    (b"[" * 100_000, "nested 100000 levels"),
    (b"{\"a\":" * 40 + b"1" + b"}" * 40, "nested 40 levels"),
    (b"x" * (2 * 1024 * 1024), "above the limit of"),
    (b"NaN", "NaN is not JSON"),
    (b'{"a": -Infinity}', "-Infinity is not JSON"),
    (b"1e999999", "out of range"),
    (b"9" * 5000, "an integer of 5000 digits"),
    (b"\xff\xfe", "not UTF-8"),
    (b'{"a": 1', "not JSON"),
])
def test_hostile_payloads_are_refused_with_the_limit_they_broke(payload, complaint):
    with pytest.raises(HostileJSON, match=complaint):
        loads_bounded(payload)


def test_limits_are_set_per_call():
    assert loads_bounded(b"[[1]]", max_depth=2) == [[1]]
    with pytest.raises(HostileJSON):
        loads_bounded(b"[[1]]", max_depth=1)
    with pytest.raises(HostileJSON):
        loads_bounded(b"[1, 2, 3]", max_bytes=4)
