"""The local STS stand-in of the `trellis-sts` configurations, fed with tokens made by the real
`trellis-load --sign sts-token` and replayed the way Trellis replays them to STS.

    python3 -m unittest discover -s benches/compare/tests -v

Needs a built `trellis-load` (`cargo build -p trellis-benches --bin trellis-load`; found in
the newer of target/debug and target/release, or named by TRELLIS_LOAD); without one the tests that need a
token are skipped.
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(HERE.parent))

from trellis_compare import files, sts_standin  # noqa: E402

AUDIENCE = files.STS_AUDIENCE
HOST = f"sts.{files.REGION}.amazonaws.com"


def trellis_load():
    named = os.environ.get("TRELLIS_LOAD")
    if named:
        return named
    # The newer of the two builds: a stale debug binary may predate `--sign sts-token`.
    built = [p for p in (ROOT / "target" / profile / "trellis-load" for profile in ("debug", "release"))
             if p.is_file()]
    return str(max(built, key=lambda p: p.stat().st_mtime)) if built else None


def capture_tokens(keys, audience=AUDIENCE, requests=4):
    """The distinct `Authorization` values `trellis-load --sign sts-token` sends with `keys`."""
    seen = []

    class Capture(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.headers.get("authorization"))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as d:
            keys_file = Path(d) / "keys.txt"
            files.write_keys_file(keys_file, keys)
            port = server.server_address[1]
            done = subprocess.run(
                [trellis_load(), f"http://127.0.0.1:{port}/bench/item", "-q", "-c", "1",
                 "--rate", str(requests * 10), "-d", "100ms", "--warmup", "0s",
                 "--sign", "sts-token", "--keys-file", str(keys_file), "--region", files.REGION,
                 "--sts-audience", audience],
                capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                raise AssertionError(done.stderr)
    finally:
        server.shutdown()
        server.server_close()
    return list(dict.fromkeys(seen))


def token_target(authorization):
    """What Trellis sends STS for a token: the presigned URL's path and query."""
    body = authorization.removeprefix("Bearer ").removeprefix("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    prefix = f"https://{HOST}"
    assert url.startswith(prefix + "/?"), url
    return url[len(prefix):]


def as_trellis(audience=AUDIENCE, host=HOST, accept="application/json"):
    h = {"host": host, "x-k8s-aws-id": audience}
    if accept:
        h["accept"] = accept
    return h


@unittest.skipIf(trellis_load() is None, "no trellis-load binary: cargo build -p trellis-benches --bin trellis-load")
class StandInWithGeneratorTokens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.keys = [files.WARM_KEY] + files.cold_keys(2)
        cls.tokens = capture_tokens(cls.keys)
        cls.verifier = sts_standin.Verifier(dict(cls.keys), files.REGION, files.ACCOUNT,
                                            files.STS_ROLE, files.STS_SESSION, AUDIENCE)

    def test_the_generator_sends_one_token_per_key(self):
        self.assertEqual(len(self.tokens), 3, self.tokens)

    def test_a_generator_token_replayed_as_trellis_does_gets_the_json_caller_identity(self):
        for t in self.tokens:
            status, body = self.verifier.verify("GET", token_target(t), as_trellis())
            self.assertEqual(status, 200, body)
            self.assertEqual(set(body), {"GetCallerIdentityResponse"})
            inner = body["GetCallerIdentityResponse"]
            self.assertEqual(set(inner), {"GetCallerIdentityResult", "ResponseMetadata"})
            self.assertEqual(inner["GetCallerIdentityResult"], {
                "Account": files.ACCOUNT,
                "Arn": f"arn:aws:sts::{files.ACCOUNT}:assumed-role/bench/bench-1",
                "UserId": "AROABENCHSTANDIN000001:bench-1"})
            self.assertTrue(inner["ResponseMetadata"]["RequestId"])

    def test_another_audience_header_fails_as_at_sts(self):
        status, body = self.verifier.verify("GET", token_target(self.tokens[0]), as_trellis("svc-other"))
        self.assertEqual((status, body["Error"]["Code"]), (403, "SignatureDoesNotMatch"))

    def test_a_token_signed_for_another_audience_fails_the_signature(self):
        other = capture_tokens([files.WARM_KEY], audience="svc-another")[0]
        status, body = self.verifier.verify("GET", token_target(other), as_trellis())
        self.assertEqual((status, body["Error"]["Code"]), (403, "SignatureDoesNotMatch"))
        self.assertIn("signature", body["Error"]["Message"])

    def test_the_query_must_be_get_caller_identity_once(self):
        target = token_target(self.tokens[0])
        for bad in (target.replace("Action=GetCallerIdentity", "Action=GetSessionToken"),
                    target.replace("Version=2011-06-15", "Version=2012-01-01"),
                    target + "&Action=GetCallerIdentity",
                    target + "&action=GetCallerIdentity",
                    target + "&X-Amz-Extra=1"):
            status, body = self.verifier.verify("GET", bad, as_trellis())
            self.assertEqual(status, 400, (bad, body))

    def test_what_trellis_must_send_is_checked(self):
        target = token_target(self.tokens[0])
        self.assertEqual(self.verifier.verify("GET", target, as_trellis(accept=None))[0], 400)
        self.assertEqual(self.verifier.verify("GET", target, as_trellis(host="127.0.0.1:9"))[0], 400)
        self.assertEqual(self.verifier.verify("POST", target, as_trellis())[0], 405)
        self.assertEqual(self.verifier.verify("GET", "/x" + target[1:], as_trellis())[0], 400)

    def test_a_token_older_than_15_minutes_is_expired(self):
        target = token_target(self.tokens[0])
        date = dict(sts_standin.parse_query(target.partition("?")[2]))["X-Amz-Date"]
        stamp = sts_standin.amz_date_epoch(date)
        self.assertEqual(self.verifier.verify("GET", target, as_trellis(), now=stamp + 14 * 60)[0], 200)
        status, body = self.verifier.verify("GET", target, as_trellis(), now=stamp + 16 * 60)
        self.assertEqual((status, body["Error"]["Code"]), (403, "ExpiredToken"))

    def test_an_unknown_key_is_an_invalid_client_token(self):
        v = sts_standin.Verifier({}, files.REGION, files.ACCOUNT, "bench", "bench-1", AUDIENCE)
        status, body = v.verify("GET", token_target(self.tokens[0]), as_trellis())
        self.assertEqual((status, body["Error"]["Code"]), (403, "InvalidClientTokenId"))

    def test_the_server_answers_json_over_keep_alive_and_counts_calls(self):
        server = sts_standin.serve("127.0.0.1:0", self.verifier)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
            for t, want in ((self.tokens[0], 200), (self.tokens[1], 200)):
                conn.request("GET", token_target(t), headers={
                    "Host": HOST, "x-k8s-aws-id": AUDIENCE, "Accept": "application/json"})
                r = conn.getresponse()
                body = json.loads(r.read())
                self.assertEqual(r.status, want, body)
                self.assertEqual(r.getheader("content-type"), "application/json")
            conn.request("GET", token_target(self.tokens[0]), headers={
                "Host": HOST, "x-k8s-aws-id": "svc-other", "Accept": "application/json"})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 403)
            conn.request("GET", "/_standin/stats")
            self.assertEqual(json.loads(conn.getresponse().read()), {"verified": 2, "rejected": 1})
            conn.close()
        finally:
            server.shutdown()
            server.server_close()


class HarnessFiles(unittest.TestCase):
    def test_sts_principals_describe_the_sigv4_caller_without_keys(self):
        p = files.sts_principals()
        self.assertEqual(set(p), {"roles", "accounts"})
        role = p["roles"][0]
        self.assertEqual(role["arn"], files.ROLE_ARN)
        self.assertEqual(role["policies"], files.principals([])["principals"][0]["policies"])
        self.assertEqual(p["accounts"], [{"id": files.ACCOUNT, "org_id": "o-a1b2c3d4e5"}])

    def test_trellis_sts_runs_with_the_audience_and_the_local_endpoint(self):
        from trellis_compare import configs
        with tempfile.TemporaryDirectory() as d:
            tools = configs.Tools(trellis="trellis", passthrough="", upstream="", load="", nginx=None,
                                  envoy=None, upstream_port=1, work=Path(d), sts_port=4242)
            argv, _ = configs.trellis_argv(tools, configs.BY_NAME["trellis-sts"], Path(d), 2)
            self.assertIn("--sts-audience", argv)
            self.assertEqual(argv[argv.index("--sts-audience") + 1], AUDIENCE)
            self.assertEqual(argv[argv.index("--sts-endpoint") + 1], "http://127.0.0.1:4242")
            self.assertTrue(argv[argv.index("--principals") + 1].endswith("principals-sts.json"))
            argv, _ = configs.trellis_argv(tools, configs.BY_NAME["trellis-sigv4"], Path(d), 2)
            self.assertNotIn("--sts-audience", argv)


class Report(unittest.TestCase):
    def test_the_report_judges_sts_cpu_against_sigv4_and_shows_the_cache_miss(self):
        from trellis_compare import report

        def open_run(p50, p99, cpu=None, **extra):
            return {"p50": p50, "p99": p99, "p999": p99, "cpu_us_per_req": cpu, "failed": 0, **extra}

        rounds = {
            "direct": [{"open": {"2000": open_run(100, 300)}}],
            "trellis-sigv4": [{"open": {"2000": open_run(130, 400, cpu=20.0)}}],
            "trellis-sts": [{"open": {"2000": open_run(128, 390, cpu=18.0, sts_calls=1, sts_rejected=0)}}],
            "trellis-sts-cold": [{"open": {"200": open_run(900, 2500, cpu=60.0, sts_calls=2200, sts_rejected=0)},
                                  "direct_same_rate": open_run(120, 500)}],
        }
        summary = report.summarize(rounds)
        self.assertEqual(summary["trellis-sts-cold"]["miss_added_p50"], 780)
        self.assertEqual(summary["trellis-sts-cold"]["miss_added_p99"], 2000)
        self.assertEqual(summary["trellis-sts-cold"]["miss_rate"], 200)
        self.assertEqual(summary["trellis-sts"]["sts_calls"], 1)
        rows = {what: (value, met) for what, value, met in report.targets(summary)}
        self.assertEqual(rows["CPU/request with STS tokens ≤ SigV4 (trellis-sts / trellis-sigv4)"], ("0.90 ×", True))
        summary["trellis-sts"]["cpu_2k"] = 25.0
        rows = {what: (value, met) for what, value, met in report.targets(summary)}
        self.assertEqual(rows["CPU/request with STS tokens ≤ SigV4 (trellis-sts / trellis-sigv4)"], ("1.25 ×", False))
        meta = {"date": "d", "rounds": 1, "duration": 1, "warmup": 1, "loadavg_before": 0,
                "loadavg_after": 0, "machine": "m"}
        md = report.markdown(summary, meta, list(rounds))
        self.assertIn("| trellis-sts-cold (every request a cache miss) | 60.0 | 3.00 | 780 | 2000 | 200 | 2200 | 0 | 0 |", md)
        self.assertIn("**missed**", md)


if __name__ == "__main__":
    unittest.main()
