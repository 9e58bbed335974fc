import base64
import hashlib
import hmac
import time

TOLERANCE_SECS = 300


def verify(secret: str, headers: dict, body: bytes, now: int | None = None) -> bool:
    """True when a v1 signature in webhook-signature matches and the timestamp is fresh.

    `body` is the raw request body: verify before parsing, never a re-serialised copy.
    """
    if not secret.startswith("whsec_"):
        raise ValueError("a Corridor webhook secret starts with whsec_")
    key = base64.b64decode(secret[len("whsec_"):])
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if not timestamp.isdigit():
        return False
    now = int(time.time()) if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE_SECS:
        return False
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False
