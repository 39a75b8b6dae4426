#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# h2bridge.py -- carries HTTP/1.1 WebSocket clients over HTTP/2 (RFC 8441
# extended CONNECT) to httpd, so that the raw-socket test clients of t/
# (t/lib/Conformance.pm) can drive WebSockets over h2 and h2c unchanged.
# Run it with /usr/bin/python3 (the Debian interpreter with python3-h2).
#
#   h2bridge.py --port N [--tls --ca FILE] [--host 127.0.0.1]
#               [--authority localhost:N] [--window BYTES] [--log FILE]
#               [--parent PID]
#
# It listens on an ephemeral port of 127.0.0.1 and prints "port P" once
# ready.  For each accepted connection it reads the HTTP/1.1 upgrade
# request and opens one extended CONNECT stream (:method CONNECT,
# :protocol websocket, :path, :authority; sec-websocket-version, origin,
# sec-websocket-protocol, sec-websocket-extensions and other end-to-end
# headers passed through).  A 200 on the stream becomes a 101 for the local
# client, with a Sec-WebSocket-Accept computed from its key (the server
# never sees that key: mod_http2 makes its own); any other status is passed
# on as an HTTP/1.1 error with its body.  Then bytes are relayed both ways:
#   - one local read is one DATA frame (split only by flow control or the
#     peer's frame size), sent at once: split WebSocket frames reach the
#     server split;
#   - DATA from the server is written to the local socket, and the window
#     is reopened (WINDOW_UPDATE) only for what the local client took;
#   - END_STREAM from the server -> FIN to the local client (shutdown of
#     the write side); RST_STREAM before END_STREAM -> the local socket is
#     reset (RST); a GOAWAY or a lost connection resets the local sockets
#     of the streams it cut short;
#   - local EOF -> END_STREAM; local reset -> RST_STREAM (CANCEL).
# Streams share h2 connections: a new WebSocket goes on the newest
# connection until the server sends GOAWAY or the connection reaches the
# server's SETTINGS_MAX_CONCURRENT_STREAMS; then a new connection is made
# (also when the request says "X-H2-Bridge: new"; not passed on).
# The 101 carries "X-H2-Bridge: conn=C stream=S" (which h2 connection and
# stream carry the WebSocket).  A plain "GET /.h2bridge/stats" (no
# Upgrade) answers a JSON summary: per connection ALPN, the server's
# SETTINGS_ENABLE_CONNECT_PROTOCOL, streams, peak concurrency, GOAWAY;
# and counts of the streams' ends (END_STREAM, RST_STREAM and their codes).
# Exits when --parent is no longer its parent, or on SIGTERM.  Every
# connect and handshake is bounded by --timeout.
import argparse
import base64
import collections
import hashlib
import http
import json
import os
import select
import signal
import socket
import ssl
import struct
import sys
import time
import traceback

from h2sock import connect_protocol, open_h2_socket

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

WS_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
# request headers that belong to the HTTP/1.1 hop or to the HTTP/1.1
# handshake only (RFC 8441 section 5: no Sec-WebSocket-Key/-Accept)
HOP = {'host', 'connection', 'upgrade', 'keep-alive', 'proxy-connection',
       'te', 'transfer-encoding', 'content-length', 'sec-websocket-key'}
# how much unsent local input a stream may hold before the bridge stops
# reading its local socket (back pressure from the h2 windows)
MAX_PENDING = 256 * 1024
MAX_HEAD = 64 * 1024

log_fh = None


def log(msg):
    if log_fh:
        log_fh.write('%.6f %s\n' % (time.time(), msg))
        log_fh.flush()


class Local:
    """One accepted HTTP/1.1 client connection = one WebSocket stream."""

    def __init__(self, sock, n):
        self.sock = sock
        self.n = n
        self.state = 'head'       # head, wait, open, error, closed
        self.head = b''
        self.key = None
        self.fresh = False        # wants a new h2 connection
        self.path = None
        self.headers = []
        self.pending = collections.deque()   # local input not yet sent
        self.out = bytearray()               # bytes for the local client
        self.unacked = 0                     # of self.out, still to ack
        self.up = None
        self.sid = None
        self.local_eof = False    # local client sent FIN
        self.sent_end = False     # we sent END_STREAM / RST_STREAM
        self.remote_end = False   # server sent END_STREAM
        self.remote_reset = None  # server's RST_STREAM code
        self.fin_sent = False     # we shut down the local write side


class Upstream:
    """One h2 connection to httpd."""

    def __init__(self, bridge, n):
        a = bridge.a
        self.n = n
        self.bridge = bridge
        self.streams = {}
        self.out = bytearray()
        self.closed = False
        self.goaway = None
        self.ready = False        # the server's SETTINGS arrived
        self.connect_protocol = None
        self.max_streams = None
        self.total = 0
        self.peak = 0
        sock, self.alpn = open_h2_socket(a, nodelay=True)
        if a.tls and self.alpn != 'h2':
            sock.close()
            raise IOError('ALPN: server chose %r, not h2' % self.alpn)
        self.sock = sock
        cfg = h2.config.H2Configuration(client_side=True,
                                        header_encoding='utf-8')
        self.conn = h2.connection.H2Connection(config=cfg)
        # before initiate_connection: our first SETTINGS carries these
        self.conn.local_settings = h2.settings.Settings(
            client=True, initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: a.window})
        self.conn.initiate_connection()
        if a.window > 65535:
            self.conn.increment_flow_control_window(a.window - 65535)
        self.collect()
        log('conn %d: connected, alpn %s' % (n, self.alpn))

    def usable(self):
        if self.closed or self.goaway is not None:
            return False
        if self.max_streams is not None and \
                len(self.streams) >= self.max_streams:
            return False
        return True

    def collect(self):
        self.out += self.conn.data_to_send()

    def summary(self):
        return {'conn': self.n, 'alpn': self.alpn,
                'connect_protocol': self.connect_protocol,
                'streams': self.total, 'peak': self.peak,
                'open': len(self.streams), 'closed': self.closed,
                'goaway': self.goaway}


class Bridge:
    def __init__(self, a):
        self.a = a
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(('127.0.0.1', a.listen))
        self.lsock.listen(128)
        self.lsock.setblocking(False)
        self.locals = []
        self.ups = []
        self.nlocal = 0
        self.nup = 0
        self.waiting = []         # locals with a complete head, no stream
        self.ends = collections.Counter()

    # ---- h2 connections ----------------------------------------------------
    def upstream(self, fresh=False):
        # the newest connection that takes more streams
        for u in reversed(self.ups):
            if u.usable() and not fresh:
                return u
        self.nup += 1
        u = Upstream(self, self.nup)
        self.ups.append(u)
        return u

    def up_write(self, u):
        u.collect()
        while u.out and not u.closed:
            try:
                n = u.sock.send(u.out)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError,
                    BlockingIOError):
                # (the loop polls every connection for input anyway and
                # writes again after each read)
                return
            except OSError as e:
                self.up_lost(u, 'write: %s' % e)
                return
            del u.out[:n]

    def up_read(self, u):
        while not u.closed:
            try:
                data = u.sock.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                return
            except ssl.SSLWantWriteError:
                return
            except OSError as e:
                self.up_lost(u, 'read: %s' % e)
                return
            if not data:
                self.up_lost(u, 'eof')
                return
            try:
                events = u.conn.receive_data(data)
            except h2.exceptions.ProtocolError as e:
                log('conn %d: protocol error %s' % (u.n, e))
                self.ends['h2 protocol error'] += 1
                try:
                    u.conn.close_connection(
                        error_code=h2.errors.ErrorCodes.PROTOCOL_ERROR)
                    self.up_write(u)
                except Exception:
                    pass
                self.up_lost(u, 'protocol error')
                return
            for ev in events:
                self.on_event(u, ev)
            self.up_write(u)
            if not (self.a.tls and u.sock.pending()):
                return

    def up_lost(self, u, why):
        if u.closed:
            return
        log('conn %d: closed (%s)' % (u.n, why))
        u.closed = True
        try:
            u.sock.close()
        except OSError:
            pass
        for loc in list(u.streams.values()):
            if loc.remote_end or loc.remote_reset is not None:
                continue
            log('L%d: h2 connection lost mid-stream' % loc.n)
            self.ends['cut by lost connection'] += 1
            self.abort_local(loc)
        u.streams.clear()
        if u in self.ups:
            self.ups.remove(u)

    # ---- h2 events ---------------------------------------------------------
    def on_event(self, u, ev):
        E = h2.events
        loc = u.streams.get(getattr(ev, 'stream_id', None))
        if isinstance(ev, E.RemoteSettingsChanged):
            u.connect_protocol = connect_protocol(ev, u.connect_protocol)
            ms = ev.changed_settings.get(
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS)
            if ms is not None:
                u.max_streams = ms.new_value
            u.ready = True
        elif isinstance(ev, E.ResponseReceived):
            if loc:
                self.on_response(loc, ev.headers)
        elif isinstance(ev, E.DataReceived):
            pad = ev.flow_controlled_length - len(ev.data)
            if loc and loc.state in ('open', 'error') and not loc.fin_sent \
                    and loc.sock is not None:
                loc.out += ev.data
                loc.unacked += len(ev.data)
                self.ack(u, ev.stream_id, pad)
                self.local_write(loc)
            else:
                self.ack(u, ev.stream_id, ev.flow_controlled_length)
        elif isinstance(ev, E.StreamEnded):
            if loc:
                loc.remote_end = True
                log('L%d: END_STREAM from the server' % loc.n)
                self.ends['end_stream'] += 1
                self.local_write(loc)
                self.maybe_forget(loc)
        elif isinstance(ev, E.StreamReset):
            if loc:
                loc.remote_reset = ev.error_code
                code = getattr(ev.error_code, 'name', ev.error_code)
                log('L%d: RST_STREAM %s from the server%s' % (
                    loc.n, code, ' after END_STREAM' if loc.remote_end
                    else ''))
                self.ends['rst_stream %s%s' % (
                    code, ' after end_stream' if loc.remote_end else '')] += 1
                loc.sent_end = True
                loc.pending.clear()
                if loc.remote_end:
                    self.maybe_forget(loc)
                else:
                    self.abort_local(loc)
        elif isinstance(ev, E.WindowUpdated):
            targets = [loc] if loc else list(u.streams.values())
            for t in targets:
                self.push_up(t)
        elif isinstance(ev, E.ConnectionTerminated):
            u.goaway = {'code': getattr(ev.error_code, 'name',
                                        ev.error_code),
                        'last_stream_id': ev.last_stream_id}
            log('conn %d: GOAWAY %s' % (u.n, u.goaway))
            last = ev.last_stream_id or 0
            for sid, l2 in list(u.streams.items()):
                if sid > last and l2.state == 'wait':
                    # never processed: start it again on another connection
                    del u.streams[sid]
                    l2.up = l2.sid = None
                    self.waiting.append(l2)

    def ack(self, u, sid, n):
        if n <= 0 or u.closed:
            return
        try:
            u.conn.acknowledge_received_data(n, sid)
        except h2.exceptions.ProtocolError:     # the stream is gone
            pass

    def on_response(self, loc, headers):
        status = 0
        rest = []
        for k, v in headers:
            if k == ':status':
                status = int(v)
            elif not k.startswith(':'):
                rest.append((k, v))
        log('L%d: status %d' % (loc.n, status))
        if 200 <= status < 300:
            rest = [kv for kv in rest if kv[0] != 'content-length']
            acc = base64.b64encode(hashlib.sha1(
                loc.key.encode('latin-1') + WS_GUID).digest()).decode()
            head = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket',
                    'Connection: Upgrade', 'Sec-WebSocket-Accept: ' + acc,
                    'X-H2-Bridge: conn=%d stream=%d' % (loc.up.n, loc.sid)]
            loc.state = 'open'
        else:
            try:
                reason = http.HTTPStatus(status).phrase
            except ValueError:
                reason = 'Unknown'
            head = ['HTTP/1.1 %d %s' % (status, reason), 'Connection: close']
            loc.state = 'error'
            # no WebSocket: nothing of the client's goes upstream
            loc.pending.clear()
            if not loc.sent_end:
                try:
                    loc.up.conn.end_stream(loc.sid)
                except h2.exceptions.ProtocolError:
                    pass
                loc.sent_end = True
        head += ['%s: %s' % kv for kv in rest]
        loc.out += ('\r\n'.join(head) + '\r\n\r\n').encode('latin-1')
        self.push_up(loc)
        self.local_write(loc)

    # ---- local side --------------------------------------------------------
    def accept(self):
        while True:
            try:
                s, _ = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.nlocal += 1
            self.locals.append(Local(s, self.nlocal))

    def local_read(self, loc):
        try:
            data = loc.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            log('L%d: local read: %s' % (loc.n, e))
            self.local_reset(loc)
            return
        if not data:
            log('L%d: local EOF' % loc.n)
            loc.local_eof = True
            if loc.state == 'head':
                self.close_local(loc)
            else:
                # (in 'wait': END_STREAM follows the response's 200)
                self.push_up(loc)
                self.maybe_forget(loc)
            return
        if loc.state == 'head':
            loc.head += data
            i = loc.head.find(b'\r\n\r\n')
            if i < 0:
                if len(loc.head) > MAX_HEAD:
                    self.refuse(loc, 431, 'request head too long')
                return
            rest = loc.head[i + 4:]
            if rest:
                loc.pending.append(bytes(rest))
            self.parse_head(loc, loc.head[:i].decode('latin-1'))
        elif loc.state in ('wait', 'open'):
            if not loc.sent_end:
                loc.pending.append(data)
                self.push_up(loc)
        # data after an error answer or a reset: discarded

    def parse_head(self, loc, head):
        lines = head.split('\r\n')
        parts = lines[0].split(' ')
        hdrs = []
        for line in lines[1:]:
            if ':' not in line:
                continue
            k, v = line.split(':', 1)
            hdrs.append((k.strip().lower(), v.strip()))
        get = {k: v for k, v in hdrs}
        if len(parts) == 3 and parts[0] == 'GET' and \
                parts[1] == '/.h2bridge/stats':
            return self.answer(loc, 200, json.dumps(self.stats()),
                               'application/json')
        if len(parts) != 3 or parts[0] != 'GET' or \
                get.get('upgrade', '').lower() != 'websocket' or \
                'sec-websocket-key' not in get:
            return self.refuse(loc, 400, 'the bridge only carries '
                               'WebSocket upgrade requests')
        loc.key = get['sec-websocket-key']
        loc.path = parts[1]
        loc.fresh = get.get('x-h2-bridge') == 'new'
        loc.headers = [(k, v) for k, v in hdrs
                       if k not in HOP and k != 'x-h2-bridge']
        loc.state = 'wait'
        self.waiting.append(loc)

    def start_waiting(self):
        still = []
        for loc in self.waiting:
            if loc.state != 'wait' or loc.sock is None:
                continue
            try:
                u = self.upstream(loc.fresh)
                loc.fresh = False
            except (OSError, ssl.SSLError) as e:
                log('L%d: cannot connect to the server: %s' % (loc.n, e))
                self.refuse(loc, 502, 'bridge: %s' % e)
                continue
            if not u.ready:
                still.append(loc)
                continue
            if not u.connect_protocol:
                self.refuse(loc, 502, 'bridge: the server does not allow '
                            'extended CONNECT')
                continue
            self.open_stream(u, loc)
        self.waiting = still

    def open_stream(self, u, loc):
        a = self.a
        sid = u.conn.get_next_available_stream_id()
        hdrs = [(':method', 'CONNECT'), (':protocol', 'websocket'),
                (':scheme', 'https' if a.tls else 'http'),
                (':path', loc.path), (':authority', a.authority)]
        try:
            u.conn.send_headers(sid, hdrs + loc.headers)
        except (h2.exceptions.ProtocolError, ValueError) as e:
            self.refuse(loc, 400, 'bridge: %s' % e)
            return
        loc.up, loc.sid = u, sid
        u.streams[sid] = loc
        u.total += 1
        u.peak = max(u.peak, len(u.streams))
        log('L%d: conn %d stream %d CONNECT %s' % (loc.n, u.n, sid,
                                                    loc.path))
        self.up_write(u)

    def push_up(self, loc):
        """Sends pending local input as DATA frames, as far as flow control
        allows; END_STREAM after the local EOF."""
        u = loc.up
        if u is None or u.closed or loc.state != 'open' or loc.sent_end:
            return
        conn = u.conn
        try:
            while loc.pending:
                win = min(conn.local_flow_control_window(loc.sid),
                          conn.max_outbound_frame_size)
                if win <= 0:
                    break
                chunk = loc.pending[0]
                if len(chunk) > win:
                    loc.pending[0] = chunk[win:]
                    chunk = chunk[:win]
                else:
                    loc.pending.popleft()
                conn.send_data(loc.sid, chunk)
            if loc.local_eof and not loc.pending:
                conn.end_stream(loc.sid)
                loc.sent_end = True
                log('L%d: END_STREAM to the server' % loc.n)
        except h2.exceptions.ProtocolError as e:
            # the stream is closed, or the connection after a GOAWAY
            log('L%d: cannot send: %s' % (loc.n, e))
            loc.sent_end = True
            loc.pending.clear()
        self.up_write(u)

    def local_write(self, loc):
        if loc.sock is None:
            return
        while loc.out:
            try:
                n = loc.sock.send(loc.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                log('L%d: local write: %s' % (loc.n, e))
                self.local_reset(loc)
                return
            del loc.out[:n]
            took = min(n, loc.unacked)
            if took and loc.up is not None:
                loc.unacked -= took
                self.ack(loc.up, loc.sid, took)
                self.up_write(loc.up)
        if not loc.out and loc.remote_end and not loc.fin_sent:
            # the server ended the stream: an orderly FIN for the client
            loc.fin_sent = True
            try:
                loc.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            log('L%d: FIN to the local client' % loc.n)
            self.maybe_forget(loc)

    def local_reset(self, loc):
        """The local client is gone abruptly: RST_STREAM (CANCEL)."""
        u = loc.up
        if u is not None and not u.closed and not loc.sent_end and \
                not loc.remote_reset and loc.sid is not None:
            try:
                u.conn.reset_stream(loc.sid,
                                    h2.errors.ErrorCodes.CANCEL)
                log('L%d: RST_STREAM CANCEL to the server' % loc.n)
            except h2.exceptions.ProtocolError:
                pass
            self.up_write(u)
        loc.sent_end = True
        self.close_local(loc)

    def abort_local(self, loc):
        """The stream was cut short: the local client sees a reset."""
        if loc.sock is not None:
            try:
                loc.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack('ii', 1, 0))
            except OSError:
                pass
        self.close_local(loc)

    def maybe_forget(self, loc):
        """Closes the local socket once both directions are done."""
        done_up = loc.sent_end or loc.remote_reset is not None
        done_down = loc.fin_sent or loc.remote_reset is not None
        if loc.local_eof and done_up and done_down and not loc.out:
            self.close_local(loc)

    def close_local(self, loc):
        if loc.sock is not None:
            try:
                loc.sock.close()
            except OSError:
                pass
            loc.sock = None
        loc.state = 'closed'
        if loc.unacked and loc.up is not None:
            self.ack(loc.up, loc.sid, loc.unacked)
            loc.unacked = 0
        if loc.up is not None and loc.up.streams.get(loc.sid) is loc:
            del loc.up.streams[loc.sid]
        if loc in self.locals:
            self.locals.remove(loc)

    def refuse(self, loc, status, text):
        self.answer(loc, status, text + '\n', 'text/plain')

    def answer(self, loc, status, body, ctype):
        body = body.encode()
        loc.out += ('HTTP/1.1 %d %s\r\nContent-Type: %s\r\n'
                    'Content-Length: %d\r\nConnection: close\r\n\r\n' % (
                        status, http.HTTPStatus(status).phrase, ctype,
                        len(body))).encode('latin-1') + body
        loc.state = 'error'
        loc.remote_end = True
        loc.sent_end = True
        self.local_write(loc)

    def stats(self):
        return {'connections': [u.summary() for u in self.all_ups],
                'ends': dict(self.ends)}

    # ---- the loop ----------------------------------------------------------
    def run(self):
        self.all_ups = []
        sys.stdout.write('port %d\n' % self.lsock.getsockname()[1])
        sys.stdout.flush()
        while True:
            if self.a.parent and os.getppid() != self.a.parent:
                log('parent gone: exit')
                break
            for u in self.ups:
                if u not in self.all_ups:
                    self.all_ups.append(u)
            self.start_waiting()
            for u in list(self.ups):
                self.up_write(u)
                # a connection that said GOAWAY and carries nothing more
                if u.goaway is not None and not u.streams and not u.out:
                    self.up_lost(u, 'done after GOAWAY')
            p = select.poll()
            fds = {self.lsock.fileno(): ('listen', None)}
            p.register(self.lsock, select.POLLIN)
            timeout = 1000
            for u in self.ups:
                ev = select.POLLIN
                if u.out:
                    ev |= select.POLLOUT
                p.register(u.sock, ev)
                fds[u.sock.fileno()] = ('up', u)
                if self.a.tls and u.sock.pending():
                    timeout = 0
            for loc in self.locals:
                if loc.sock is None:
                    continue
                ev = 0
                if not loc.local_eof and (
                        loc.state == 'head' or
                        sum(map(len, loc.pending)) < MAX_PENDING):
                    ev |= select.POLLIN
                if loc.out:
                    ev |= select.POLLOUT
                if ev:
                    p.register(loc.sock, ev)
                    fds[loc.sock.fileno()] = ('local', loc)
            try:
                ready = p.poll(timeout)
            except InterruptedError:
                continue
            if not ready and timeout == 0:
                for u in list(self.ups):
                    if u.sock.pending():
                        self.up_read(u)
            for fd, ev in ready:
                kind, obj = fds.get(fd, (None, None))
                if kind == 'listen':
                    self.accept()
                elif kind == 'up':
                    if obj.closed:
                        continue
                    if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                        self.up_read(obj)
                    if ev & select.POLLOUT and not obj.closed:
                        self.up_write(obj)
                elif kind == 'local':
                    if obj.sock is None:
                        continue
                    if ev & select.POLLOUT:
                        self.local_write(obj)
                    if obj.sock is not None and ev & (
                            select.POLLIN | select.POLLHUP | select.POLLERR):
                        self.local_read(obj)


def main():
    global log_fh
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--listen', type=int, default=0)
    ap.add_argument('--tls', action='store_true')
    ap.add_argument('--ca')
    ap.add_argument('--sni', default='localhost')
    ap.add_argument('--authority')
    ap.add_argument('--timeout', type=float, default=10)
    ap.add_argument('--window', type=int, default=1024 * 1024)
    ap.add_argument('--log')
    ap.add_argument('--parent', type=int)
    a = ap.parse_args()
    a.authority = a.authority or 'localhost:%d' % a.port
    if a.log:
        log_fh = open(a.log, 'a')
    b = Bridge(a)
    # SIGTERM: exit at once (the kernel closes every socket)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        b.run()
    except Exception:
        log('bridge failed:\n' + traceback.format_exc())
        raise


if __name__ == '__main__':
    main()
