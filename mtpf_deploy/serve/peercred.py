"""The caller's identity on a Unix socket: the kernel's peer credentials (``SO_PEERCRED``: pid, uid, gid
of the process that connected), as Android's Binder gives a service its calling UID. uvicorn's HTTP
protocol, with the peer uid of each connection put into its requests' ``scope["state"]["peer_uid"]``."""
from __future__ import annotations

import socket
import struct

from uvicorn.protocols.http.h11_impl import H11Protocol

PEER_UID = "peer_uid"


def peer_uid(sock: socket.socket | None) -> int | None:
    """The uid of the process at the other end of a Unix socket (None: not a Unix socket)."""
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    _, uid, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


class PeerCredProtocol(H11Protocol):
    """``H11Protocol`` whose requests carry their connection's peer uid."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        uid = peer_uid(transport.get_extra_info("socket"))
        if uid is not None:  # scope["state"] is a copy of app_state per request: this connection's own
            self.app_state = {**self.app_state, PEER_UID: uid}
