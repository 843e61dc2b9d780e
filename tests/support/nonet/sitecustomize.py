"""Put this folder on PYTHONPATH to run a Python process with the network blocked.

Only loopback (127.0.0.1 / localhost / ::1) and Unix sockets are allowed, so a test can still talk to a
server it started. Every refused attempt is appended to $RAGKIT_NONET_LOG (if set) and raises OSError.
"""

import os
import socket

_connect = socket.socket.connect
_getaddrinfo = socket.getaddrinfo
_LOCAL = {"127.0.0.1", "localhost", "::1"}


def _log(what):
    path = os.environ.get("RAGKIT_NONET_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{what}\n")


def connect(self, address, *args, **kwargs):
    if self.family == socket.AF_UNIX or (isinstance(address, tuple) and address[0] in _LOCAL):
        return _connect(self, address, *args, **kwargs)
    _log(f"connect {address!r}")
    raise OSError(f"network blocked in tests: connect {address!r}")


def getaddrinfo(host, *args, **kwargs):
    if host in _LOCAL or host is None:
        return _getaddrinfo(host, *args, **kwargs)
    _log(f"getaddrinfo {host!r}")
    raise OSError(f"network blocked in tests: getaddrinfo {host!r}")


socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
