"""Loading a site: the config validated against every plugin's section, plus the plugin
manager of the plugins the config leaves enabled.

Sections of disabled plugins still validate, so disabling a plugin never makes a good config
bad; the disabled plugin just does not run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pluggy
import yaml

from roadcam.common.yaml_config import load_yaml, validate_config

from .config import CoreConfig
from .plugins import build_plugin_manager, config_model


def load_site(path: Path) -> tuple[CoreConfig, pluggy.PluginManager]:
    """Read and validate a site-config YAML file. Raises ConfigError listing every problem
    with its field path and line."""
    data, node = load_yaml(path)
    return site_from_data(data, node=node, source=str(path))


def site_from_data(data: Any, *, node: yaml.Node | None = None,
                   source: str = "config") -> tuple[CoreConfig, pluggy.PluginManager]:
    """Validate an already-parsed config (the simulator builds its site config in memory)."""
    # every plugin, even one the config or ROADCAM_DISABLE_PLUGINS blocks, so its section validates
    every_plugin = build_plugin_manager(environ={**os.environ, "ROADCAM_DISABLE_PLUGINS": ""})
    config = validate_config(config_model(every_plugin), data, node, source)
    return config, build_plugin_manager(disabled=config.plugins.disabled)
