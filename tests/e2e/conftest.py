"""e2e fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def sip_target(asterisk) -> str:  # type: ignore[no-untyped-def]
    return f"127.0.0.1:{asterisk.info.sip_port}"
