"""What a device and the collector both speak: the wire formats, in one place for both sides.

The event envelope and its evidence references (:mod:`.events`), MQTT topic names
(:mod:`.topics`), Ed25519 signing (:mod:`.signing`), the signed command format
(:mod:`.commands`), the hotlist body and entries (:mod:`.hotlist`), the collector's ack
(:mod:`.acks`), event batches (:mod:`.event_batches`) and size- and depth-bounded JSON parsing
(:mod:`.bounded_json`). It imports neither side (tests/test_import_rules.py): the collector never
needs the appliance, its plugins or their libraries, and the device never imports the collector.
"""
