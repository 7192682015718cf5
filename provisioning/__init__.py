"""Provisioning and commissioning a site: the example config, and the technician's commands
(``roadcam install-units``, ``provision``, ``calibrate``, ``selftest``, added through the
``roadcam_register_commands`` hook by :mod:`roadcam.provisioning.commands`) with the central half
of enrolment (:mod:`roadcam.provisioning.authority`)."""
