"""Site config: validation, field paths and file lines in errors, plugin sections, the CLI check."""

from __future__ import annotations

import textwrap
from importlib import resources
from pathlib import Path

import pytest

from roadcam.appliance.cli import main
from roadcam.appliance.site import load_site, site_from_data
from roadcam.common.errors import ConfigError

EXAMPLE = Path(str(resources.files("roadcam.provisioning") / "examples" / "site.yaml"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    return caught.value.problems


def test_example_config_is_valid():
    config, manager = load_site(EXAMPLE)
    assert config.device.id == "tn-0042"
    assert config.cameras[0].source.type == "picamera2"
    assert config.section("detection").type == "background"
    assert manager.get_plugin("diagnostics") is not None


def test_unknown_key_names_its_path_and_line(tmp_path):
    path = write(tmp_path, """\
        device:
          id: tn-0001
          site: tn-test
        cameras:
          - name: north
            source: {type: sim}
            fsp: 25
        """)
    problems = problems_of(path)
    assert problems == [f"{path}:7: cameras[0].fsp: unknown key (check its spelling and indentation)"]


def test_a_location_off_the_globe_names_its_field_and_line(tmp_path):
    path = write(tmp_path, """\
        device:
          id: tn-0001
          site: tn-test
          location: {lat: 95.0, lon: 120.25}
        """)
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:4: device.location.lat:") and "less than or equal to 90" in problems[0]
    config, _ = load_site(EXAMPLE)
    assert (config.device.location.lat, config.device.location.lon) == (23.0262, 120.2548)


def test_wrong_type_and_missing_field_are_all_listed(tmp_path):
    path = write(tmp_path, """\
        device:
          id: tn-0001
        storage:
          budget_mb: lots
        loops:
          - {name: l1, pin: GPIO5, lane: 0}
        """)
    problems = problems_of(path)
    assert any(p.startswith(f"{path}:1: device.site: required field is missing") for p in problems)
    assert any(p.startswith(f"{path}:4: storage.budget_mb:") and "'lots'" in p for p in problems)
    assert any(p.startswith(f"{path}:6: loops[0].lane:") and "greater than or equal to 1" in p for p in problems)
    assert len(problems) == 3


def test_plugin_section_is_validated_with_its_path(tmp_path):
    path = write(tmp_path, """\
        device: {id: tn-0001, site: tn-test}
        diagnostics:
          dark_below: -3
        """)
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:3: diagnostics.dark_below:")


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path, """\
        device:
          id: tn-0001
          site: [unclosed
        """)
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    assert str(caught.value).startswith(f"{path}:4:")
    assert "not valid YAML" in str(caught.value)


def test_a_pin_used_twice_is_refused():
    data = {"device": {"id": "tn-0001", "site": "tn-test"},
            "loops": [{"name": "a", "pin": "GPIO5"}, {"name": "b", "pin": "5"}]}
    with pytest.raises(ConfigError) as caught:
        site_from_data(data)
    assert "pin 5 is used by both loops[a] and loops[b]" in caught.value.problems[0]


def test_disabling_an_unknown_plugin_names_the_known_ones():
    data = {"device": {"id": "tn-0001", "site": "tn-test"}, "plugins": {"disabled": ["speedd"]}}
    with pytest.raises(ConfigError, match="no plugin is named 'speedd'; known plugins: detection, diagnostics"):
        site_from_data(data)


def test_disabled_plugin_does_not_run_but_its_section_still_validates():
    data = {"device": {"id": "tn-0001", "site": "tn-test"}, "plugins": {"disabled": ["diagnostics"]},
            "diagnostics": {"dark_below": 10}}
    config, manager = site_from_data(data)
    assert config.section("diagnostics").dark_below == 10
    assert manager.is_blocked("diagnostics")


def test_every_config_field_has_a_title_and_description():
    config, _ = load_site(EXAMPLE)
    seen = []

    def walk(model):
        for name, field in model.model_fields.items():
            seen.append(name)
            assert field.title and field.description, f"{model.__name__}.{name} lacks a title or description"
            for arg in getattr(field.annotation, "__args__", ()) + (field.annotation,):
                if isinstance(arg, type) and hasattr(arg, "model_fields"):
                    walk(arg)
                for inner in getattr(arg, "__args__", ()):
                    if isinstance(inner, type) and hasattr(inner, "model_fields"):
                        walk(inner)

    walk(type(config))
    assert len(seen) > 40


def test_config_check_cli_ok_and_error(tmp_path, capsys):
    assert main(["config", "check", str(EXAMPLE)]) == 0
    assert "ok — device tn-0042" in capsys.readouterr().out
    bad = write(tmp_path, "device: {id: tn-0001, site: tn-test, serial: 5}\n")
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:1: device.serial: unknown key" in err
    assert "Traceback" not in err


def test_config_check_missing_file(tmp_path, capsys):
    assert main(["config", "check", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: no such file" in capsys.readouterr().err
