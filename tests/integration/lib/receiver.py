#!/usr/bin/env python3
"""tests/integration/lib/receiver.py: a loopback HTTP peer for the tests
that stands for a webhook, a status page or a monitoring endpoint. python3
stdlib only. Start it through receiver_start (lib/engine.sh), or:

    python3 receiver.py ADDR:PORT LOG [--record body|path]
        [--get PATH STATUS BODY]... [--else STATUS BODY] [--down FILE]

- Every POST is answered 200 and recorded as one line of LOG: its body
  with each newline made a space (--record body, the default) or its path
  (--record path).
- A GET of a PATH named by --get is answered STATUS with BODY (empty: no
  body); any other GET, and every GET while FILE (--down) exists, is
  answered as --else says (default 404, no body). GETs are not recorded.
- LOG is created (emptied) once the address is bound: a test waits for it
  to know the receiver listens.
"""
import argparse
import http.server
import os
import threading


def main():
    ap = argparse.ArgumentParser(description="a loopback HTTP receiver")
    ap.add_argument("listen", metavar="ADDR:PORT")
    ap.add_argument("log")
    ap.add_argument("--record", choices=("body", "path"), default="body")
    ap.add_argument("--get", nargs=3, action="append", default=[],
                    metavar=("PATH", "STATUS", "BODY"))
    ap.add_argument("--else", dest="other", nargs=2, default=["404", ""],
                    metavar=("STATUS", "BODY"))
    ap.add_argument("--down", metavar="FILE")
    a = ap.parse_args()
    gets = {p: (int(s), b.encode()) for p, s, b in a.get}
    other = (int(a.other[0]), a.other[1].encode())
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        """Answers as the options say; records each POST."""

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            down = a.down is not None and os.path.exists(a.down)
            self.answer(*(other if down else gets.get(self.path, other)))

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            line = self.path.encode() if a.record == "path" else body.replace(b"\n", b" ")
            with lock, open(a.log, "ab") as f:
                f.write(line + b"\n")
            self.answer(200, b"")

        def log_message(self, *args):
            pass

    host, port = a.listen.rsplit(":", 1)
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    open(a.log, "wb").close()
    server.serve_forever()


if __name__ == "__main__":
    main()
