"""Provisioning a site: the example config now; enrolment, calibration preview, self-test and
the commissioning report as their issues land."""
