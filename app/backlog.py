"""How far behind a session's browser is: bytes written to its websocket but not yet sent.

Inside ``pn.io.hold`` Panel writes each patch straight into Tornado's write
buffer (not through Bokeh's locked send), and the kernel's socket send queue
takes megabytes more: a browser that reads slowly gets every old frame, drawn
one after another before the current one. A session whose
:func:`pending_bytes` is above its limit presents nothing in that tick (its
cursors stay behind), so once the queue drains its next tick shows the
*latest* frame (docs/adr/0009).

The count is Tornado's unwritten buffer plus the socket's send queue
(``SIOCOUTQ``: bytes not yet acknowledged by the peer; Linux only, 0 elsewhere).
It reaches Bokeh's and Tornado's private attributes; if a release renames
them, the count is 0 and sessions behave as without the check.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import termios
from typing import Any

_INT = struct.Struct("i")


def pending_bytes(context: Any) -> int:
    """Unsent bytes on every websocket of the session of ``context`` (Bokeh session context)."""
    server_session = getattr(context, "_session", None)
    connections = getattr(server_session, "_subscribed_connections", None) or ()
    total = 0
    for connection in list(connections):
        protocol = getattr(getattr(connection, "_socket", None), "ws_connection", None)
        stream = getattr(protocol, "stream", None)
        if stream is None:
            continue
        buffered = getattr(stream, "_write_buffer", None)
        total += len(buffered) if buffered is not None else 0
        sock = getattr(stream, "socket", None)
        if isinstance(sock, socket.socket):
            total += unsent(sock)
    return total


def unsent(sock: socket.socket) -> int:
    """Bytes in the socket's send queue (unsent or unacknowledged); 0 if unknown."""
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, _INT.pack(0))
    except (OSError, ValueError):  # not Linux, or the socket closed meanwhile
        return 0
    return int(_INT.unpack(raw)[0])
