"""textback.yaml -> frozen, typed settings: the schema (schema.py) of field types
(fields.py), the example's placeholders (examples.py), and loading with
errors that name file, line and key (loading.py)."""

from bridge.config.examples import EXAMPLE_BUSINESS, example_values
from bridge.config.loading import (
    MAX_CONFIG_BYTES,
    CheckedConfig,
    ConfigError,
    load_checked,
    load_config,
    parse_config,
)
from bridge.config.schema import (
    AgiConfig,
    AlertRules,
    AmiConfig,
    BusinessConfig,
    CdrConfig,
    CdrCsvConfig,
    CdrMysqlConfig,
    Channel,
    Config,
    FollowUpConfig,
    LineConfig,
    LogConfig,
    MetricsConfig,
    ModemConfig,
    NudgeConfig,
    OfficeConfig,
    OwnerAlerts,
    OwnerConfig,
    PbxConfig,
    SipConfig,
    SmtpConfig,
    TextingConfig,
    TransportName,
)
from bridge.config.store_section import StoreConfig
from bridge.config.web_section import CannedReply, WebConfig

__all__ = [
    "EXAMPLE_BUSINESS", "MAX_CONFIG_BYTES", "AgiConfig", "AlertRules", "AmiConfig",
    "BusinessConfig", "CannedReply", "CdrConfig", "CdrCsvConfig", "CdrMysqlConfig", "Channel",
    "CheckedConfig", "Config", "ConfigError", "FollowUpConfig", "LineConfig", "LogConfig",
    "MetricsConfig", "ModemConfig", "NudgeConfig", "OfficeConfig",
    "OwnerAlerts", "OwnerConfig", "PbxConfig",
    "SipConfig", "SmtpConfig", "StoreConfig", "TextingConfig", "TransportName", "WebConfig",
    "example_values", "load_checked", "load_config", "parse_config",
]  # fmt: skip
