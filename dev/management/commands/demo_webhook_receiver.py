"""`manage.py demo_webhook_receiver --port N`: the demo's webhook receiver (`make run`).

A small HTTP server on 127.0.0.1 that prints every webhook it receives and whether its
signature verifies (with the `standardwebhooks` library, as a partner would). At start it
points the demo organization's "Demo receiver" HTTP integration at itself, creating it if an
older demo database has none. Development only: it reads the secret from the database, which a
real partner never can.
"""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core.management.base import BaseCommand
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from dev.demo import DEMO_ORG_SLUG, DEMO_RECEIVER_NAME, ensure_demo_integration
from healix.models import Organization
from integrations.models import HttpIntegration
from integrations.webhooks.services import update_integration


class Command(BaseCommand):
    help = "Run the demo webhook receiver on 127.0.0.1 and point the demo integration at it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, required=True)

    def handle(self, *args, **options) -> None:
        port = options["port"]
        url = f"http://127.0.0.1:{port}/webhooks"
        organization = Organization.objects.filter(slug=DEMO_ORG_SLUG).first()
        if organization is not None:
            update_integration(ensure_demo_integration(organization), url=url)
        write = self.stdout.write

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                integration = HttpIntegration.objects.filter(
                    organization__slug=DEMO_ORG_SLUG, partner_name=DEMO_RECEIVER_NAME
                ).first()
                try:
                    Webhook(integration.secret).verify(body, dict(self.headers))
                    verdict = "signature verified"
                except (WebhookVerificationError, AttributeError, ValueError) as error:
                    verdict = f"signature NOT verified ({error})"
                try:
                    event = json.loads(body)
                    summary = f"{event.get('messageType')} {event.get('eventId')}"
                except ValueError:
                    summary = "not JSON"
                write(f"webhook {self.headers.get('webhook-id')}: {summary}, {verdict}")
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        write(f"demo webhook receiver listening on {url}")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
