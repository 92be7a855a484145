"""The channel's messages (docs/protocol.md): how a line is read and written, the
connection metadata of NODE_HANDLE, and the fields of vhostd's other commands. Pure: the
worker does the I/O. tests/vectors/channel.json holds the cases all three SDKs pass.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional

MAX_LINE = 64 * 1024          # the channel's line limit (protocol.md section 3)
MAX_FDS_PER_READ = 16         # room for fds per recvmsg, as the C++ SDK
DEFAULT_HEARTBEAT_INTERVAL_MS = 1000
MIN_HEARTBEAT_INTERVAL_MS = 10
MAX_HEARTBEAT_INTERVAL_MS = 2**31 - 1   # what every SDK's timer can hold


def started_by_vhostd() -> bool:
    """True when this process was started by vhostd (the channel fd is in the environment)."""
    return "VHOSTD_CHANNEL_FD" in os.environ


def int_or(text, fallback: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return fallback


def heartbeat_interval_ms(text: Optional[str]) -> int:
    """VHOSTD_HEARTBEAT_INTERVAL_MS as protocol.md section 7 reads it: ASCII digits only;
    missing, anything else, 0 or above 2^31-1 gives 1000; 1 to 9 give 10."""
    if text is None or not text.isascii() or not text.isdigit():
        return DEFAULT_HEARTBEAT_INTERVAL_MS
    value = int(text)
    if value == 0 or value > MAX_HEARTBEAT_INTERVAL_MS:
        return DEFAULT_HEARTBEAT_INTERVAL_MS
    return max(value, MIN_HEARTBEAT_INTERVAL_MS)


def decode_line(line: bytes) -> Optional[dict]:
    """One line (without its newline) as a message, or None when the protocol refuses it:
    longer than 64 KiB, or not a JSON object with a string "cmd"."""
    if len(line) > MAX_LINE:
        return None
    try:
        message = json.loads(line)
    except ValueError:                      # also bytes that are not UTF-8
        return None
    if not isinstance(message, dict) or not isinstance(message.get("cmd"), str):
        return None
    return message


def encode_line(message: dict) -> bytes:
    """One channel line. Strict JSON (vhostd's parser takes no NaN), and at most 64 KiB:
    vhostd would take a longer line for a broken process and kill it."""
    text = json.dumps(message, separators=(",", ":"), allow_nan=False)
    if len(text) > MAX_LINE:   # ASCII (json.dumps escapes the rest), so characters are bytes
        raise ValueError(f"a {message['cmd']} line of {len(text)} bytes; the channel allows 64 KiB")
    return text.encode() + b"\n"


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _unsigned(value, limit: int) -> int:
    """A metadata number: a JSON integer from 0 to `limit`, else 0."""
    return value if _is_integer(value) and 0 <= value <= limit else 0


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _tls_of(value) -> Optional[dict]:
    """The `tls` member, every field present: mode is "passthrough" or "terminate"."""
    if not isinstance(value, dict):
        return None
    return {"mode": "passthrough" if value.get("mode") == "passthrough" else "terminate",
            **{name: _text(value.get(name)) for name in ("serverName", "alpn", "version", "cipher")}}


@dataclasses.dataclass(frozen=True)
class ConnectionInfo:
    """The metadata vhostd sent with a connection (the `msg` of NODE_HANDLE). It describes
    the first request only; `raw` keeps the whole object, for members added later."""
    id: int = 0
    site: str = ""
    host: str = ""             # normalised Host the connection was routed on; "" without Host
    remote_address: str = ""   # the client, also for relayed TLS (where getpeername is useless)
    remote_port: int = 0
    local_address: str = ""
    local_port: int = 0
    websocket: bool = False
    head_length: int = 0
    tls: Optional[dict] = None  # {"mode","serverName","alpn","version","cipher"} on TLS listeners
    raw: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_message(cls, msg) -> "ConnectionInfo":
        msg = msg if isinstance(msg, dict) else {}
        return cls(id=_unsigned(msg.get("id"), 2**64 - 1), site=_text(msg.get("site")),
                   host=_text(msg.get("host")),
                   remote_address=_text(msg.get("remoteAddress")),
                   remote_port=_unsigned(msg.get("remotePort"), 65535),
                   local_address=_text(msg.get("localAddress")),
                   local_port=_unsigned(msg.get("localPort"), 65535),
                   websocket=msg.get("websocket") is True,
                   head_length=_unsigned(msg.get("headLength"), 2**64 - 1),
                   tls=_tls_of(msg.get("tls")), raw=msg)


def sender_of(message: dict) -> dict:
    """The `from` of a vhostd:message or vhostd:call ({"role", "slot", "pid"}), or {}."""
    sender = message.get("from")
    return sender if isinstance(sender, dict) else {}


def call_id_of(message: dict) -> Optional[int]:
    """The id of a vhostd:call or vhostd:reply; None when it has none to answer or settle."""
    value = message.get("id")
    return value if _is_integer(value) else None


def reply_outcome(reply: dict) -> tuple:
    """(error, result) of a vhostd:reply: error a string, or None (missing or null) on success."""
    error = reply.get("error")
    return (None if error is None else str(error)), reply.get("result")


def task_name_of(message: dict) -> Optional[str]:
    """The task a vhostd:task runs; None (the message is ignored) without a string name."""
    name = message.get("name")
    return name if isinstance(name, str) else None


def undeliverable_of(message: dict) -> dict:
    """A vhostd:undeliverable as the report the callback gets: {"id", "to", "reason"}."""
    return {name: message.get(name) for name in ("id", "to", "reason")}
