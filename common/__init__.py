"""Helpers both the device and the collector use that are not wire formats: the exception tree
(:mod:`.errors`), YAML config files checked with line numbers (:mod:`.yaml_config`), SQLite
opened for durability (:mod:`.sqlite`), the content-addressed evidence folder
(:mod:`.evidence_files`) and the command-line runner (:mod:`.cli`). Like :mod:`roadcam.protocol`,
it imports neither side.
"""
