"""Reads what the registry serves with libraries nobody here wrote, and prints what they make of
it as JSON, for tests/it/feeds.rs to assert on.

    check.py receipt RECEIPT DID_JSON        PyJWT verifies the JWS with the key did.json names
    check.py atom FEED                       feedparser's reading of an Atom feed
    check.py ics CALENDAR                    icalendar's reading of an iCalendar file
    check.py csv FILE                        the csv module's rows
    check.py signature FILE SIG_B64 DID_JSON KID   cryptography checks an Ed25519 signature
    check.py webhook SECRET MESSAGE_JSON     standardwebhooks verifies a delivery as received
                                             ({"headers": {...}, "body": "..."}), and the same
                                             delivery with one byte of its body changed
"""

import base64
import csv
import json
import sys

import base58
import feedparser
import icalendar
import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def key_from_did(did_path, kid):
    """The Ed25519 public key did.json publishes as verification method `kid` (a Multikey)."""
    with open(did_path) as f:
        did = json.load(f)
    for method in did["verificationMethod"]:
        if method["id"] == kid:
            raw = base58.b58decode(method["publicKeyMultibase"][1:])
            assert raw[:2] == b"\xed\x01", "not an Ed25519 Multikey"
            return Ed25519PublicKey.from_public_bytes(raw[2:])
    raise SystemExit(f"did.json names no key {kid}")


def receipt(path, did_path):
    with open(path) as f:
        token = f.read().strip()
    header = jwt.get_unverified_header(token)
    key = key_from_did(did_path, header["kid"])
    try:
        payload = jwt.decode(
            token,
            key=key,
            algorithms=["EdDSA"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidTokenError as e:
        return {"verified": False, "error": f"{type(e).__name__}: {e}"}
    return {"verified": True, "header": header, "payload": payload}


def atom(path):
    parsed = feedparser.parse(path)
    return {
        "bozo": bool(parsed.bozo),
        "bozo_exception": str(parsed.get("bozo_exception", "")),
        "version": parsed.version,
        "title": parsed.feed.get("title"),
        "links": {l["rel"]: l["href"] for l in parsed.feed.get("links", [])},
        "entries": [
            {
                "id": e.id,
                "title": e.title,
                "link": e.link,
                "updated": e.updated,
                "summary": e.summary,
                "category": e.tags[0]["term"] if e.get("tags") else None,
            }
            for e in parsed.entries
        ],
    }


def ics(path):
    with open(path, "rb") as f:
        raw = f.read()
    cal = icalendar.Calendar.from_ical(raw)
    events = []
    for event in cal.walk("VEVENT"):
        events.append(
            {
                "uid": str(event["UID"]),
                "dtstart": event.decoded("DTSTART").isoformat(),
                "dtstart_is_date": type(event.decoded("DTSTART")).__name__ == "date",
                "summary": str(event["SUMMARY"]),
                "description": str(event["DESCRIPTION"]),
                "url": str(event.get("URL", "")),
                "alarms_days_before": [
                    -alarm.decoded("TRIGGER").days for alarm in event.walk("VALARM")
                ],
            }
        )
    longest = max(len(line) for line in raw.split(b"\r\n"))
    return {
        "name": str(cal.get("X-WR-CALNAME", "")),
        "events": events,
        "longest_line_octets": longest,
        "crlf_only": b"\n" not in raw.replace(b"\r\n", b""),
    }


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {"rows": list(csv.DictReader(f))}


def signature(path, sig_b64, did_path, kid):
    key = key_from_did(did_path, kid)
    with open(path, "rb") as f:
        data = f.read()
    try:
        key.verify(base64.b64decode(sig_b64), data)
        return {"verified": True}
    except InvalidSignature:
        return {"verified": False}


def webhook(secret, message_path):
    with open(message_path) as f:
        message = json.load(f)
    headers, body = message["headers"], message["body"]
    hook = Webhook(secret)
    answer = {}
    try:
        answer["payload"] = hook.verify(body, headers)
        answer["verified"] = True
    except WebhookVerificationError as e:
        answer["verified"] = False
        answer["error"] = str(e)
    tampered = body.replace("award.", "award_", 1) if "award." in body else body + " "
    try:
        hook.verify(tampered, headers)
        answer["tampered_verified"] = True
    except WebhookVerificationError:
        answer["tampered_verified"] = False
    return answer


COMMANDS = {
    "receipt": receipt,
    "atom": atom,
    "ics": ics,
    "csv": csv_rows,
    "signature": signature,
    "webhook": webhook,
}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:])))
