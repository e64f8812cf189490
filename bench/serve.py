#!/usr/bin/env python3
"""A static file server for bench/repository.sh: HTTP/1.1 with keep-alive,
threads, gzip for JSON when the client accepts it (as a CDN or any web
server with compression on would), and byte counting.

Usage: serve.py DIR PORT [--no-gzip]

GET /__stats returns {"requests": N, "bytes": B} (bodies sent, after
compression) and GET /__reset sets both to zero; neither is counted.
"""

import gzip
import http.server
import json
import os
import sys
import threading

ROOT, PORT = sys.argv[1], int(sys.argv[2])
GZIP = "--no-gzip" not in sys.argv[3:]
LOCK = threading.Lock()
STATS = {"requests": 0, "bytes": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body in one write, and no Nagle delay: otherwise every
    # keep-alive response waits for a delayed ACK (about 40 ms).
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def send_body(self, body, ctype="application/octet-stream", encoding=None, count=True):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        self.wfile.write(body)
        if count:
            with LOCK:
                STATS["requests"] += 1
                STATS["bytes"] += len(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/__stats":
            with LOCK:
                body = json.dumps(STATS).encode()
            return self.send_body(body, "application/json", count=False)
        if path == "/__reset":
            with LOCK:
                STATS["requests"] = STATS["bytes"] = 0
            return self.send_body(b"{}", "application/json", count=False)
        from urllib.parse import unquote

        rel = unquote(path).lstrip("/")
        full = os.path.realpath(os.path.join(ROOT, rel))
        if not full.startswith(os.path.realpath(ROOT) + os.sep) or not os.path.isfile(full):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            with LOCK:
                STATS["requests"] += 1
            return
        with open(full, "rb") as f:
            body = f.read()
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if GZIP and accepts and full.endswith(".json"):
            return self.send_body(gzip.compress(body, 6, mtime=0), "application/json", "gzip")
        return self.send_body(body)


http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
