"""Run inside a private network and mount namespace (`unshare -rnm`, see test_ssrf_unwrapping):
the addresses to probe are put on this namespace's loopback interface, names for them into a
private /etc/hosts, and a real HTTP receiver listens on all of them. So each address really
leads to the receiver, as a 6to4 relay or a NAT64 gateway would lead it to 127.0.0.1.

For every target it sends one plain request straight to the address (the control: it must
arrive) and then one through the webhook transport with its SSRF guard. It prints JSON: per
URL, how many requests the receiver got from each, and what the transport answered.

Usage: python -m tests.security.ssrf_namespace_probe '{"hosts": {name: address}, "urls": [...]}'
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Receiver(ThreadingHTTPServer):
    address_family = socket.AF_INET6  # "::" takes every address of the namespace
    daemon_threads = True

    def __init__(self) -> None:
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("::", 0), Handler)


def prepare_namespace(hosts: dict[str, str]) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for address in sorted(set(hosts.values())):
        subprocess.run(["ip", "-6", "addr", "add", f"{address}/128", "dev", "lo"], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".hosts", delete=False) as file:
        file.writelines(f"{address} {name}\n" for name, address in hosts.items())
    subprocess.run(["mount", "--bind", file.name, "/etc/hosts"], check=True)


def direct_post(url: str) -> None:
    """A request that no guard checks: proves the address leads to the receiver."""
    parts = urlsplit(url)
    address = socket.getaddrinfo(parts.hostname, parts.port, type=socket.SOCK_STREAM)[0][4]
    with socket.create_connection(address[:2], timeout=5) as connection:
        connection.sendall(
            f"POST {parts.path}-control HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        connection.recv(1024)


def main() -> None:
    plan = json.loads(sys.argv[1])
    prepare_namespace(plan["hosts"])
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = receiver.server_address[1]

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healix.settings")
    import django

    django.setup()
    from integrations.webhooks import transport

    results = {}
    for template in plan["urls"]:
        url = template.format(port=port)
        before = len(receiver.paths)
        direct_post(url)
        control = len(receiver.paths) - before
        response = transport.post(url, b"{}", {"Content-Type": "application/json"})
        results[template] = {
            "control_received": control,
            "guarded_received": len(receiver.paths) - before - control,
            "refused": response.refused,
            "error": response.error,
            "status": response.status_code,
        }
    receiver.shutdown()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
