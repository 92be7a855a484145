#!/usr/bin/env python3
"""An ACME server that misbehaves on purpose, for vhostd's tests: HTTPS in front of pebble.

Usage: acme_proxy.py PORT CERT KEY CA PEBBLE_PORT MODE

Listens on 127.0.0.1:PORT with CERT/KEY and passes every request on to pebble at
localhost:PEBBLE_PORT (trusting CA), keeping the Host header, so that pebble builds every
URL (and checks every JWS "url") for this proxy. MODE changes one thing:

  ari          the directory offers renewalInfo (pebble 2.4 does not); the first
               certificate asked about gets a window that starts now, any later one a
               window a month ahead (RFC 9773).
  never-ready  every order is reported "pending", however far it got.
  error-500    newOrder answers HTTP 500 with an HTML page, as a broken load balancer would.

Prints what a test checks: "issued CERTID" for each chain pebble sends (its RFC 9773 id,
from `openssl x509`), "renewal-info CERTID", and "new-order replaces=CERTID" (or "-") for
each order pebble placed.
"""
import base64
import datetime
import http.client
import http.server
import json
import socketserver
import ssl
import subprocess
import sys
import threading

PORT, CERT, KEY, CA, PEBBLE_PORT, MODE = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
upstream_tls = ssl.create_default_context(cafile=CA)
state = {"new_order_path": None, "first_id": None}
lock = threading.Lock()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def certificate_id(chain_pem):
    """RFC 9773 §4.1, computed independently of vhostd: AKI keyid and serial, by openssl."""
    leaf = chain_pem.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    text = subprocess.run(["openssl", "x509", "-noout", "-serial", "-ext", "authorityKeyIdentifier"],
                          input=leaf, capture_output=True, text=True, check=True).stdout
    serial = bytes.fromhex(text.split("serial=")[1].split()[0])
    if serial[0] & 0x80:
        serial = b"\0" + serial
    keyid = [line.strip() for line in text.splitlines() if ":" in line and "=" not in line and "Identifier" not in line][0]
    keyid = bytes.fromhex(keyid.removeprefix("keyid:").replace(":", ""))
    return b64url(keyid) + "." + b64url(serial)


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        if MODE == "ari" and self.path.startswith("/renewal-info/"):
            return self.renewal_info(self.path.removeprefix("/renewal-info/"))
        new_order = self.command == "POST" and self.path == state["new_order_path"]
        if new_order and MODE == "error-500":
            return self.answer(500, [("Content-Type", "text/html")], b"<html><body>500 Internal Server Error</body></html>")
        status, headers, answer = self.forward(body)
        if new_order and status == 201:  # placed (not refused for a bad nonce, which vhostd sends again)
            payload = json.loads(base64.urlsafe_b64decode(json.loads(body)["payload"] + "=="))
            print(f"new-order replaces={payload.get('replaces', '-')}", flush=True)
        content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
        if self.path.endswith("/dir") and status == 200:
            directory = json.loads(answer)
            state["new_order_path"] = "/" + directory["newOrder"].split("/", 3)[3]
            if MODE == "ari":
                directory["renewalInfo"] = f"https://{self.headers['Host']}/renewal-info"
            answer = json.dumps(directory).encode()
        elif content_type.startswith("application/pem-certificate-chain"):
            print(f"issued {certificate_id(answer.decode())}", flush=True)
        elif MODE == "never-ready" and content_type.startswith("application/json") and answer:
            thing = json.loads(answer)
            if isinstance(thing, dict) and "finalize" in thing:
                thing["status"] = "pending"
                answer = json.dumps(thing).encode()
        self.answer(status, headers, answer)

    def renewal_info(self, certificate_id):
        print(f"renewal-info {certificate_id}", flush=True)
        now = datetime.datetime.now(datetime.timezone.utc)
        with lock:
            first = state["first_id"] in (None, certificate_id)
            state["first_id"] = state["first_id"] or certificate_id
        start = now if first else now + datetime.timedelta(days=30)
        window = {"start": rfc3339(start), "end": rfc3339(start + datetime.timedelta(seconds=2))}
        body = json.dumps({"suggestedWindow": window, "explanationURL": "https://ca.test/why"}).encode()
        self.answer(200, [("Content-Type", "application/json"), ("Retry-After", "21600")], body)

    def forward(self, body):
        connection = http.client.HTTPSConnection("localhost", PEBBLE_PORT, context=upstream_tls, timeout=30)
        connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in ("content-length", "connection"):
                connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        answer = response.read()
        # A list, not a dict: pebble sends several Link headers.
        headers = [(name, value) for name, value in response.getheaders()
                   if name.lower() not in ("content-length", "connection", "transfer-encoding")]
        connection.close()
        return response.status, headers, answer

    def answer(self, status, headers, body):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", int(PORT)), Handler)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(CERT, KEY)
server.socket = tls.wrap_socket(server.socket, server_side=True)
server.serve_forever()
