"""Settings for talking to the AMI double (bridge.sim.ami_server.FakeAsterisk)."""

from __future__ import annotations

from bridge.config import AmiConfig

SECRET = "s3cret-for-tests-only"


def fast_ami(port: int, **overrides: object) -> AmiConfig:
    """AMI settings with short timers, so faults play out in milliseconds."""
    settings: dict[str, object] = {
        "port": port,
        "username": "textback",
        "secret": SECRET,
        "connect_timeout": 2,
        "ping_interval": 0.2,
        "ping_timeout": 0.2,
        "action_timeout": 2,
        "reconnect_min": 0.02,
        "reconnect_max": 0.1,
    }
    settings.update(overrides)
    return AmiConfig.model_validate(settings)
