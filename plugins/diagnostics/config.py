"""The ``diagnostics`` config section."""

from pydantic import Field

from roadcam.appliance.config import Section


class DiagnosticsConfig(Section):
    """Self-diagnostics thresholds."""

    sample_every_s: float = Field(1.0, gt=0, title="Image check interval (s)",
                                  description="How often each camera's image is checked (frame time).")
    frozen_after_s: float = Field(10.0, gt=0, title="Frozen after (s)",
                                  description="A camera whose image has not changed at all for this "
                                              "long is reported frozen.")
    dark_below: float = Field(6.0, ge=0, le=255, title="Dark below",
                              description="Mean grey level under which the image counts as blind "
                                          "(lens covered, IR lamp dead).")
    disk_free_min_mb: int = Field(512, ge=0, title="Disk free minimum (MiB)",
                                  description="Free space on the storage disk below which a fault is raised.")
    cpu_temp_max_c: float = Field(80.0, gt=0, title="CPU temperature maximum (°C)",
                                  description="SoC temperature above which a fault is raised.")
