"""The thin central collector: ingest from MQTT, verify, store, acknowledge, query.

Entry point: ``roadcam-collector`` (:mod:`roadcam.collector.cli`). The collector needs nothing from the
appliance but its contracts (event envelope, topics, signing) in :mod:`roadcam.appliance`.
"""
