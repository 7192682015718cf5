"""The thin central collector: ingest from MQTT, verify, store, acknowledge, query.

Entry point: ``roadcam-collector`` (:mod:`roadcam.collector.cli`). The collector imports nothing of
the device (appliance, plugins, HAL, simulator): what both sides speak is :mod:`roadcam.protocol`,
shared helpers are :mod:`roadcam.common` (tests/test_import_rules.py). It runs on the base install,
without the ``[device]`` extra.
"""
