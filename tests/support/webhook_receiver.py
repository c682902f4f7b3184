"""A webhook receiver that records what it is sent, for notifier tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response


@dataclass
class ReceivedWebhook:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    received: list[ReceivedWebhook] = field(default_factory=list)
    # Status codes to answer with, in order; then 204 for everything after.
    script: list[int] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.received.append(ReceivedWebhook(dict(request.headers), await request.body()))
            status = self.script.pop(0) if self.script else 204
            return Response(status_code=status)

        return app
