# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# h2sock.py -- what t/h2/h2ws.py and t/h2/h2bridge.py share: the client
# socket (TCP to the server, TLS with ALPN h2 when asked, non-blocking)
# and the reading of the server's SETTINGS.
import socket
import ssl

import h2.settings


def open_h2_socket(a, nodelay=False):
    """Connects to a.host:a.port (timeout a.timeout); with a.tls, wraps the
    socket in TLS verified against a.ca for a.sni, offering ALPN h2.
    Returns (socket, the ALPN protocol chosen or None), non-blocking."""
    sock = socket.create_connection((a.host, a.port), timeout=a.timeout)
    if nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    alpn = None
    if a.tls:
        ctx = ssl.create_default_context(cafile=a.ca)
        ctx.set_alpn_protocols(['h2'])
        sock = ctx.wrap_socket(sock, server_hostname=a.sni)
        alpn = sock.selected_alpn_protocol()
    sock.setblocking(False)
    return sock, alpn


def connect_protocol(ev, current):
    """SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441) after the server's
    SETTINGS event ev: its new value, or 0 if the server's first SETTINGS
    left it out, else current."""
    c = ev.changed_settings.get(
        h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
    if c is not None:
        return c.new_value
    return 0 if current is None else current
