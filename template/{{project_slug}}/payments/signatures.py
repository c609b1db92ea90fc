"""Webhook signatures with a timestamp, as Stripe signs its webhooks.

The provider sends one header, `X-Webhook-Signature: t=<unix seconds>,v1=<hex>`, where `<hex>` is
the HMAC-SHA256 of `"<t>.<raw body>"` with the shared secret. The timestamp is signed with the
body, so a captured request is refused once it falls outside the tolerance window: a replay can
no longer pass as new. Several `v1=` entries may be sent (one per secret while the provider
rotates it); one matching is enough. Entries of other schemes are ignored.
"""

import hashlib
import hmac
import re
import time

SIGNATURE_HEADER = "X-Webhook-Signature"
SCHEME = "v1"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


class SignatureError(ValueError):
    """The request does not prove that the provider sent it just now."""


class MalformedSignature(SignatureError):
    """The header is missing or cannot be read: a client error (400)."""


class SignatureRefused(SignatureError):
    """The header is well formed but no signature matches, or it is too old: refused (403)."""


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header value the provider sends with `body` at `timestamp` (default: now)."""
    if timestamp is None:
        timestamp = int(time.time())
    return f"t={timestamp},{SCHEME}={_digest(body, secret, timestamp)}"


def verify(header: str, body: bytes, secret: str, tolerance: int) -> int:
    """Check `header` against `body`; return its timestamp, or raise a SignatureError.

    Refused: no `v1` signature of `"<t>.<body>"` with `secret`, or `t` more than `tolerance`
    seconds away from now (either way: a request signed for the future would stay valid too long).
    """
    timestamp, signatures = _parse(header)
    expected = _digest(body, secret, timestamp)
    # Every entry is compared, in constant time each, so timing tells nothing about which matched.
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    if not any(matches):
        raise SignatureRefused("signature does not match")
    if abs(time.time() - timestamp) > tolerance:
        raise SignatureRefused("timestamp outside the tolerance window")
    return timestamp


def _digest(body: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int, list[str]]:
    # Anything but printable ASCII is no header we wrote; refusing it here also keeps
    # hmac.compare_digest, which raises on non-ASCII text, away from it.
    if not header or not header.isascii() or not header.isprintable():
        raise MalformedSignature(f"{SIGNATURE_HEADER} header missing or not printable ASCII")
    timestamps, signatures = [], []
    for item in header.split(","):
        key, equals, value = item.strip().partition("=")
        if not equals:
            raise MalformedSignature(f"{SIGNATURE_HEADER} header: expected key=value pairs")
        if key == "t":
            timestamps.append(value)
        elif key == SCHEME:
            signatures.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise MalformedSignature(f"{SIGNATURE_HEADER} header: expected one t=<unix seconds>")
    if not signatures or not all(_HEX_DIGEST.fullmatch(s) for s in signatures):
        raise MalformedSignature(f"{SIGNATURE_HEADER} header: expected {SCHEME}=<hex digest>")
    return int(timestamps[0]), signatures
