"""The backlog count: what a socket holds that its peer has not taken."""

from __future__ import annotations

import socket
import sys
from types import SimpleNamespace

import pytest

from app.backlog import pending_bytes, unsent

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="SIOCOUTQ is Linux's")


@pytest.fixture
def pair():
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    yield client, peer
    for sock in (client, peer, server):
        sock.close()


def _fill(sock: socket.socket) -> int:
    sock.setblocking(False)
    sent = 0
    try:
        while True:
            sent += sock.send(b"x" * 65536)
    except BlockingIOError:
        return sent


@linux_only
def test_a_socket_whose_peer_does_not_read_holds_what_it_sent(pair):
    client, _peer = pair
    assert unsent(client) == 0
    sent = _fill(client)
    assert sent > 65536
    assert 0 < unsent(client) <= sent


def test_a_closed_socket_counts_zero(pair):
    client, _peer = pair
    client.close()
    assert unsent(client) == 0


@linux_only
def test_pending_bytes_adds_the_stream_buffer_of_each_websocket(pair):
    client, _peer = pair
    queued = _fill(client)
    stream = SimpleNamespace(_write_buffer=b"y" * 1000, socket=client)
    connection = SimpleNamespace(
        _socket=SimpleNamespace(ws_connection=SimpleNamespace(stream=stream))
    )
    context = SimpleNamespace(_session=SimpleNamespace(_subscribed_connections=[connection]))
    assert 1000 < pending_bytes(context) <= queued + 1000


def test_a_session_without_websocket_or_bokeh_internals_counts_zero():
    assert pending_bytes(SimpleNamespace(_session=None)) == 0
    assert pending_bytes(object()) == 0
    gone = SimpleNamespace(_socket=SimpleNamespace(ws_connection=None))
    assert (
        pending_bytes(SimpleNamespace(_session=SimpleNamespace(_subscribed_connections=[gone])))
        == 0
    )
