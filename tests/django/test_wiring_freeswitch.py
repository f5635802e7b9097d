"""``make_driver("freeswitch")`` from the settings (SW-1): the event socket's address and
password, refused clearly without a password (never logged)."""

from __future__ import annotations

import logging

import pytest

from switch_control.contract import EndpointKind
from switch_control.drivers.freeswitch import FreeSwitchDriver
from switch_control.wiring import make_driver


def test_the_freeswitch_driver_is_built_from_the_settings(settings, caplog):  # type: ignore[no-untyped-def]
    settings.ESL_HOST, settings.ESL_PORT, settings.ESL_PASSWORD = "10.0.0.5", 8022, "esl-s3cret"
    settings.FS_RECORDINGS_DIR, settings.FS_GATEWAY = "/data/rec", "pstn"
    with caplog.at_level(logging.DEBUG):
        driver = make_driver("freeswitch")
    assert isinstance(driver, FreeSwitchDriver)
    assert (driver.esl.host, driver.esl.port) == ("10.0.0.5", 8022)
    assert driver.config.media.recordings_dir == "/data/rec"
    assert driver.endpoint("02000000000", EndpointKind.EXTERNAL) == "sofia/gateway/pstn/02000000000"
    assert "esl-s3cret" not in caplog.text


def test_no_password_no_driver(settings):  # type: ignore[no-untyped-def]
    settings.ESL_PASSWORD = ""
    with pytest.raises(SystemExit, match="ESL_PASSWORD is not set"):
        make_driver("freeswitch")
