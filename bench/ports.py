"""Loopback ports for the bench's processes: free when picked, and never
handed out twice in one run (the kernel offers a closed port again)."""
import socket

_given = set()


def free_port():
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _given:
            _given.add(port)
            return port
