"""A headless dashboard session: speaks the Bokeh websocket protocol, renders nothing.

Tests and benchmarks use it to open many real sessions on a replica cheaply:
it opens ``/ws`` with a session id and token (signed with
``secret_key`` when the replica signs sessions), pulls the document, announces
``document_ready`` like a browser (Panel sends no updates to a document that is
not ready), then timestamps every ``PATCH-DOC`` it receives. It never applies
the patches: it counts them, their bytes and the time of their last byte.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bokeh.core.types import ID
from bokeh.util.token import generate_jwt_token, generate_session_id
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

_READY_EVENT = {
    "kind": "MessageSent",
    "msg_type": "bokeh_event",
    "msg_data": {"type": "event", "name": "document_ready", "values": {}},
}


@dataclass
class Patch:
    """One ``PATCH-DOC`` as received: when its last byte arrived, its size, its content."""

    received_ns: int
    nbytes: int
    content: str


@dataclass
class ProbeSession:
    """One session; ``patches`` grows while :meth:`run` runs."""

    url: str
    #: Generated (and signed with ``secret_key``, if any) when not given.
    session_id: str = ""
    secret_key: str | None = None
    keep_content: bool = True
    #: Sent with the websocket request and carried in the session token like a
    #: browser's (e.g. ``Authorization`` or ``Cookie`` when sign-in is on).
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    patches: list[Patch] = field(default_factory=list)
    doc_bytes: int = 0
    #: The pulled document's JSON (with ``keep_content``).
    doc_content: str = ""
    ready_ns: int = 0
    closed: bool = False
    _conn: WebSocketClientConnection | None = None
    _reading: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._reading.set()
        if not self.session_id:
            secret = self.secret_key.encode() if self.secret_key else None
            self.session_id = generate_session_id(secret_key=secret, signed=secret is not None)

    async def connect(self, timeout: float = 30.0) -> None:
        """Open the websocket, pull the document and announce ``document_ready``."""
        token = generate_jwt_token(
            ID(self.session_id),
            secret_key=self.secret_key.encode() if self.secret_key else None,
            signed=self.secret_key is not None,
            expiration=3600,
            extra_payload=(
                {"headers": self.headers, "cookies": self.cookies}
                if self.headers or self.cookies
                else None
            ),
        )
        ws_url = self.url.rstrip("/").replace("http", "ws", 1) + "/ws"
        request = HTTPRequest(ws_url, headers=dict(self.headers))
        self._conn = await asyncio.wait_for(
            websocket_connect(request, subprotocols=["bokeh", token], max_message_size=2**30),
            timeout,
        )
        header, _, _ = await asyncio.wait_for(self._receive(), timeout)
        if header["msgtype"] != "ACK":
            raise ConnectionError(f"expected ACK from {ws_url}, got {header['msgtype']}")
        await self._send("PULL-DOC-REQ", {})
        while True:
            header, content, nbytes = await asyncio.wait_for(self._receive(), timeout)
            if header["msgtype"] == "PULL-DOC-REPLY":
                self.doc_bytes = nbytes
                self.doc_content = content if self.keep_content else ""
                break
        await self._send("PATCH-DOC", {"events": [_READY_EVENT]})
        self.ready_ns = time.time_ns()

    async def run(self, seconds: float) -> None:
        """Receive patches for ``seconds`` (or until the server closes the socket)."""
        deadline = time.monotonic() + seconds
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._reading.wait(), remaining)
                header, content, nbytes = await asyncio.wait_for(self._receive(), remaining)
            except (TimeoutError, ConnectionError):
                return
            if header.get("msgtype") == "PATCH-DOC":
                self.patches.append(
                    Patch(time.time_ns(), nbytes, content if self.keep_content else "")
                )

    def pause(self, receive_buffer: int = 4096) -> None:
        """Stop reading, like a browser on a link too slow for its frames: the replica's
        writes back up. ``receive_buffer`` bounds what the kernel still takes meanwhile."""
        if self._conn is not None and self._conn.stream is not None:
            sock = self._conn.stream.socket
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self._reading.clear()

    def resume(self) -> None:
        self._reading.set()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self.closed = True

    def abandon(self) -> None:
        """Drop the TCP connection without a websocket close, like a killed browser."""
        if self._conn is not None and self._conn.stream is not None:
            self._conn.stream.close()
        self.closed = True

    async def change(self, model_id: str, attr: str, value: Any) -> None:
        """Set ``attr`` of a model as the browser would (e.g. a widget's value)."""
        event = {"kind": "ModelChanged", "model": {"id": model_id}, "attr": attr, "new": value}
        await self._send("PATCH-DOC", {"events": [event]})

    async def click(self, model_id: str) -> None:
        """Send the ``button_click`` event a browser sends for a click on that button."""
        values = {"model": {"id": model_id}}
        message = {"type": "event", "name": "button_click", "values": values}
        event = {"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": message}
        await self._send("PATCH-DOC", {"events": [event]})

    def text_received(self) -> str:
        return "\n".join(p.content for p in self.patches)

    # --- wire format ----------------------------------------------------------------------

    async def _send(self, msgtype: str, content: dict[str, Any]) -> None:
        assert self._conn is not None
        header = {"msgid": uuid.uuid4().hex, "msgtype": msgtype}
        for part in (header, {}, content):
            await self._conn.write_message(json.dumps(part))

    async def _receive(self) -> tuple[dict[str, Any], str, int]:
        """One whole message (header, metadata, content, buffer pairs) and its size."""
        header_text = await self._fragment()
        header = json.loads(header_text)
        await self._fragment()  # metadata
        content = await self._fragment()
        size = len(content)
        for _ in range(int(header.get("num_buffers", 0))):
            await self._fragment()  # buffer header
            size += len(await self._fragment())
        return header, content, size

    async def _fragment(self) -> str:
        assert self._conn is not None
        message = await self._conn.read_message()
        if message is None:
            self.closed = True
            raise ConnectionError("the replica closed the websocket")
        return message if isinstance(message, str) else message.decode("latin-1")
