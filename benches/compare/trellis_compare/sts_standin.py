"""A minimal local STS for the `trellis-sts` configurations: it answers what Trellis asks STS
when a caller's token is not in its cache — the token's presigned GetCallerIdentity URL,
replayed as `GET /?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-…` with the signed
`Host`, `x-k8s-aws-id: <Trellis's audience>` and `Accept: application/json` — and nothing
else.

Like STS it recomputes the SigV4 signature (keys from `--keys-file`, the `ACCESS_KEY_ID
SECRET` lines trellis-load reads) over the request as received, so a token made for another
audience fails here because the `x-k8s-aws-id` Trellis sends is not the one signed, exactly as
it fails at STS; and the `x-k8s-aws-id` Trellis sends must be `--audience`. It checks the query's Action and Version (each once), the signed headers, the
credential scope (`sts`), and that `X-Amz-Date` is at most 15 minutes old. A verified request
gets STS's JSON answer:

    {"GetCallerIdentityResponse": {"GetCallerIdentityResult": {"Account": "…", "Arn":
     "arn:aws:sts::…:assumed-role/ROLE/SESSION", "UserId": "AROA…:SESSION"},
     "ResponseMetadata": {"RequestId": "…"}}}

anything else a 4xx with STS's JSON error shape. `GET /_standin/stats` returns how many calls
it verified and rejected (the harness reads it around each load run: with a warm cache, a run
makes no STS call).

    python3 sts_standin.py --listen 127.0.0.1:9000 --audience svc-… --region us-west-2 \\
        --account 111122223333 --role bench --session bench-1 --keys-file keys.txt

Standard library only; one thread per connection, keep-alive.
"""

import argparse
import calendar
import hashlib
import hmac
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

MAX_AGE_S = 15 * 60
ALLOWED_PARAMS = {"action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date",
                  "x-amz-expires", "x-amz-security-token", "x-amz-signature",
                  "x-amz-signedheaders"}


class Rejected(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _encode(s):
    """SigV4's canonical encoding: everything but RFC 3986 unreserved characters."""
    return quote(s, safe="-_.~")


def parse_query(raw):
    """`[(name, value)]` decoded, in order; `+` is not a space in SigV4 queries."""
    out = []
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            out.append((unquote(name), unquote(value)))
    return out


def amz_date_epoch(value):
    try:
        return calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise Rejected(400, "IncompleteSignature", f"X-Amz-Date `{value}` is not YYYYMMDDTHHMMSSZ")


class Verifier:
    """What the stand-in believes: the keys, the region, the identity it answers with."""

    def __init__(self, keys, region, account, role, session, audience):
        self.keys, self.region, self.account = keys, region, account
        self.role, self.session, self.audience = role, session, audience
        self.host = f"sts.{region}.amazonaws.com"

    def verify(self, method, target, headers, now=None):
        """`(status, body dict)` for one request; `headers` maps lower-case names to values."""
        try:
            return 200, self._identity(method, target, headers, now if now is not None else time.time())
        except Rejected as r:
            return r.status, {"Error": {"Code": r.code, "Message": r.message, "Type": "Sender"},
                              "RequestId": str(uuid.uuid4())}

    def _identity(self, method, target, headers, now):
        if method != "GET":
            raise Rejected(405, "InvalidAction", f"method {method}: only the GET of a presigned URL")
        path, _, raw = target.partition("?")
        if path != "/":
            raise Rejected(400, "InvalidAction", f"path `{path}`: STS answers on `/`")
        params = parse_query(raw)
        seen = {}
        for name, value in params:
            low = name.lower()
            if low not in ALLOWED_PARAMS:
                raise Rejected(400, "InvalidParameterValue", f"unexpected query parameter `{name}`")
            if low in seen:
                raise Rejected(400, "InvalidParameterValue", f"`{name}` appears more than once")
            seen[low] = value
        if seen.get("action") != "GetCallerIdentity" or seen.get("version") != "2011-06-15":
            raise Rejected(400, "InvalidAction", "expected Action=GetCallerIdentity and Version=2011-06-15")
        if "json" not in headers.get("accept", ""):
            raise Rejected(400, "InvalidParameterValue", "send `Accept: application/json`")
        if headers.get("host") != self.host:
            raise Rejected(400, "InvalidParameterValue",
                           f"Host `{headers.get('host')}`: the signed host is `{self.host}`")
        for needed in ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signedheaders",
                       "x-amz-signature"):
            if needed not in seen:
                raise Rejected(400, "IncompleteSignature", f"missing {needed}")
        if seen["x-amz-algorithm"] != "AWS4-HMAC-SHA256":
            raise Rejected(400, "IncompleteSignature", "X-Amz-Algorithm must be AWS4-HMAC-SHA256")
        signed = seen["x-amz-signedheaders"].split(";")
        if "x-k8s-aws-id" not in signed or "host" not in signed:
            raise Rejected(403, "AccessDenied", "host and x-k8s-aws-id must be signed")
        if headers.get("x-k8s-aws-id") != self.audience:
            raise Rejected(403, "SignatureDoesNotMatch",
                           f"x-k8s-aws-id `{headers.get('x-k8s-aws-id')}` is not the audience "
                           f"`{self.audience}` this stand-in serves")
        scope = seen["x-amz-credential"].split("/")
        if len(scope) != 5 or scope[3] != "sts" or scope[4] != "aws4_request":
            raise Rejected(403, "SignatureDoesNotMatch", "credential scope must be AKID/DATE/REGION/sts/aws4_request")
        akid, date, region = scope[0], scope[1], scope[2]
        secret = self.keys.get(akid)
        if secret is None:
            raise Rejected(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        stamp = amz_date_epoch(seen["x-amz-date"])
        if not seen["x-amz-date"].startswith(date):
            raise Rejected(403, "SignatureDoesNotMatch", "X-Amz-Date does not match the credential date")
        if now - stamp > MAX_AGE_S:
            raise Rejected(403, "ExpiredToken", "Signature expired")
        if stamp - now > 300:
            raise Rejected(403, "SignatureDoesNotMatch", "Signature not yet current")
        query = "&".join(f"{k}={v}" for k, v in sorted(
            (_encode(n), _encode(v)) for n, v in params if n != "X-Amz-Signature"))
        names = sorted(signed)
        canon_headers = "".join(f"{n}:{' '.join(headers.get(n, '').split())}\n" for n in names)
        creq = f"GET\n/\n{query}\n{canon_headers}\n{';'.join(names)}\nUNSIGNED-PAYLOAD"
        sts = "AWS4-HMAC-SHA256\n{}\n{}/{}/sts/aws4_request\n{}".format(
            seen["x-amz-date"], date, region, hashlib.sha256(creq.encode()).hexdigest())
        k = _hmac(f"AWS4{secret}".encode(), date)
        for part in (region, "sts", "aws4_request"):
            k = _hmac(k, part)
        if not hmac.compare_digest(hmac.new(k, sts.encode(), hashlib.sha256).hexdigest(),
                                   seen["x-amz-signature"]):
            raise Rejected(403, "SignatureDoesNotMatch",
                           "The request signature we calculated does not match the signature you provided.")
        return {"GetCallerIdentityResponse": {
            "GetCallerIdentityResult": {
                "Account": self.account,
                "Arn": f"arn:aws:sts::{self.account}:assumed-role/{self.role}/{self.session}",
                "UserId": f"AROABENCHSTANDIN000001:{self.session}",
            },
            "ResponseMetadata": {"RequestId": str(uuid.uuid4())},
        }}


def read_keys(path):
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                akid, secret = line.split(None, 1)
                keys[akid] = secret.strip()
    return keys


def serve(listen, verifier):
    """Serves until killed; returns the server (its thread is a daemon)."""
    counts = {"verified": 0, "rejected": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # one line per call would cost the generator core
            pass

        def do_GET(self):
            if self.path == "/_standin/stats":
                with lock:
                    return self.answer(200, dict(counts))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = verifier.verify("GET", self.path, headers)
            with lock:
                counts["verified" if status == 200 else "rejected"] += 1
            self.answer(status, body)

        def do_POST(self):
            self.answer(405, {"Error": {"Code": "InvalidAction", "Message": "GET only", "Type": "Sender"}})

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("x-amzn-requestid", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(data)

    host, _, port = listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", required=True, help="HOST:PORT (loopback)")
    p.add_argument("--audience", required=True,
                   help="the x-k8s-aws-id Trellis must send (its --sts-audience)")
    p.add_argument("--region", required=True)
    p.add_argument("--account", required=True)
    p.add_argument("--role", required=True)
    p.add_argument("--session", required=True)
    p.add_argument("--keys-file", required=True, action="append",
                   help="`ACCESS_KEY_ID SECRET` per line; repeatable")
    o = p.parse_args(argv)
    keys = {}
    for path in o.keys_file:
        keys.update(read_keys(path))
    v = Verifier(keys, o.region, o.account, o.role, o.session, o.audience)
    serve(o.listen, v)
    print(f"sts stand-in on {o.listen}: {len(keys)} keys, host {v.host}, audience {o.audience}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
