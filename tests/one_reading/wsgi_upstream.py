"""An upstream built on the standard library's WSGI server (wsgiref), for the differential test
`one_reading.rs`: every request is answered 200 with what a WSGI framework would act on, as
JSON, so the test can compare it with what Trellis's policy decided on.

- method: `REQUEST_METHOD` upper-cased, as Django's `WSGIRequest` and Werkzeug's `Request` do.
- path: `PATH_INFO`, which wsgiref percent-decodes once (as ISO-8859-1, byte for byte).
- host: `HTTP_HOST`; repeated header lines arrive joined with `,`.
- headers: `HTTP_<NAME>` for each watched name; `-` and `_` in a name both become `_`, so
  `x_tenant` and `x-tenant` are the same variable.
- query: `urllib.parse.parse_qs(QUERY_STRING, keep_blank_values=True)`, `+` as a space.

`GET /__seen` sent straight to this server (not through the proxy) answers how many requests
reached it, including those it could not parse, so the test can tell "refused by the proxy"
from "refused by the upstream".

Prints `listening <port>` once bound to 127.0.0.1 on an ephemeral port.
"""

import json
import sys
import threading
import urllib.parse
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

WATCHED = ["x-tenant", "x-debug", "x-amzn-lattice-identity", "upgrade", "keep-alive"]

_lock = threading.Lock()
_seen = 0


def app(environ, start_response):
    headers = {}
    for name in WATCHED:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        if value is not None:
            headers[name] = value
    view = {
        "upstream": "wsgi",
        "method": environ["REQUEST_METHOD"].upper(),
        "path": environ["PATH_INFO"],
        "host": environ.get("HTTP_HOST"),
        "headers": headers,
        "query": urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
    }
    body = json.dumps(view).encode("ascii")
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class Handler(WSGIRequestHandler):
    def parse_request(self):
        global _seen
        if self.raw_requestline.startswith(b"GET /__seen "):
            with _lock:
                body = str(_seen).encode("ascii")
            self.wfile.write(
                b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            self.close_connection = True
            return False
        with _lock:
            _seen += 1
        return super().parse_request()

    def log_message(self, format, *args):
        pass


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    server.set_app(app)
    print("listening %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
