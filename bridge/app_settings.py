"""The user's config (bridge.config, the schema people write) mapped onto the
settings each outside package takes in its own terms. The one place that
knows both: sms_gateway and agi never import the bridge."""

from __future__ import annotations

from agi.settings import AgiSettings
from bridge.config import AgiConfig, ModemConfig, SipConfig
from sms_gateway.settings import ModemSettings, SipSettings


def modem_settings(modem: ModemConfig) -> ModemSettings:
    return ModemSettings(
        port=modem.port,
        baudrate=modem.baudrate,
        pin=modem.pin.get_secret_value() if modem.pin is not None else None,
        smsc=modem.smsc,
        send_timeout=modem.send_timeout,
        command_timeout=modem.command_timeout,
        texts_per_minute=modem.texts_per_minute,
        flow_control=modem.flow_control,
        cnmi=modem.cnmi,
        delivery_reports=modem.delivery_reports,
        sweep_seconds=modem.sweep_seconds,
    )


def sip_settings(sip: SipConfig) -> SipSettings:
    return SipSettings(
        endpoint=sip.endpoint,
        host=sip.host,
        plus_in_uri=sip.plus_in_uri,
        inbound_event=sip.inbound_event,
    )


def agi_settings(agi: AgiConfig) -> AgiSettings:
    return AgiSettings(
        host=agi.host,
        port=agi.port,
        allow=tuple(agi.allow),
        header_timeout=agi.header_timeout,
    )
