#!/usr/bin/env python3
"""One GET / to 127.0.0.1:PORT with a Host header, the answer printed as JSON
({"status": 200, "body": base64}). image_test.py runs it under nsenter, in the network
namespace of the container's vhostd, whose loopback this machine does not share.

    python3 tests/docker/http_probe.py PORT HOST
"""

import base64
import http.client
import json
import sys


def main():
    port, host = int(sys.argv[1]), sys.argv[2]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/", headers={"Host": host})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    print(json.dumps({"status": response.status, "body": base64.b64encode(body).decode()}))


if __name__ == "__main__":
    main()
