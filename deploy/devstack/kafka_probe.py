"""Asks a Kafka broker whether it serves requests yet.

An open port is not enough: a KRaft broker binds its listener early and answers only once
it has caught up with the metadata log. An ApiVersions request is the smallest request a
broker answers, so an answer means it is ready.
"""

import socket
import struct

_API_VERSIONS_KEY = 18
_API_VERSIONS_VERSION = 0
_CORRELATION_ID = 4242
_CLIENT_ID = b"devstack"


def broker_answers(host: str, port: int, timeout_seconds: float = 2.0) -> bool:
    header = struct.pack(
        ">hhih", _API_VERSIONS_KEY, _API_VERSIONS_VERSION, _CORRELATION_ID, len(_CLIENT_ID)
    )
    request = header + _CLIENT_ID
    try:
        with socket.create_connection((host, port), timeout=timeout_seconds) as connection:
            connection.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _receive_exactly(connection, 4))
            response = _receive_exactly(connection, size)
        correlation_id: int
        error_code: int
        correlation_id, error_code = struct.unpack(">ih", response[:6])
    except (OSError, struct.error):
        return False
    return correlation_id == _CORRELATION_ID and error_code == 0


def _receive_exactly(connection: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = connection.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks.extend(chunk)
    return bytes(chunks)
