"""An SMS PDU codec of the simulator's own, written from 3GPP TS 23.038 and
TS 23.040, sharing nothing with the transport's codec (python-gsmmodem's
``gsmmodem.pdu``): the simulated modem builds what the network sends with it
and reads what it is asked to send with it, so a fault in the transport's
codec shows up as a disagreement instead of both sides agreeing on it.

- :mod:`.alphabet`: GSM 7-bit default alphabet and extension table, septet
  packing, UCS-2 with surrogate pairs (TS 23.038);
- :mod:`.fields`: addresses, the SMSC field, TP-SCTS, TP-VP, TP-DCS (TS 23.040 9.1.2, 9.2.3);
- :mod:`.userdata`: the user data header, concatenation, fill bits, long texts cut in parts;
- :mod:`.messages`: SMS-DELIVER and SMS-STATUS-REPORT encoders, the SMS-SUBMIT decoder.
"""

from bridge.sim.pdu.fields import Address, PduError
from bridge.sim.pdu.messages import (
    Deliver,
    StatusReport,
    Submit,
    decode_submit,
    deliver_parts,
    encode_deliver,
    encode_status_report,
)
from bridge.sim.pdu.userdata import Concat, InformationElement

__all__ = [
    "Address",
    "Concat",
    "Deliver",
    "InformationElement",
    "PduError",
    "StatusReport",
    "Submit",
    "decode_submit",
    "deliver_parts",
    "encode_deliver",
    "encode_status_report",
]
