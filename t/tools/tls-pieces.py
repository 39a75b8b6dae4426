#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# tls-pieces.py -- wss:// client for t/stack.t that controls where TLS
# records begin and end on the wire (ssl.SSLObject over memory BIOs), to
# show that no byte stays stranded in mod_ssl or in a half-read record:
#
#   tls-pieces.py --port N --ca FILE [--path /echo] [--timeout S]
#
# After the upgrade (HTTP/1.1 over TLS) it runs three scenarios on one
# connection and prints one JSON object:
#   pieces:  one masked text frame in ONE TLS record whose bytes are written
#            to TCP a few bytes at a time (TCP_NODELAY, 5 ms apart):
#            "latency" = seconds from the last piece to the echo
#   record:  10 frames in ONE TLS record, one write: "echoes" = how many
#            came back within the timeout, "latency" for all of them
#   split:   2 records written as record 1 + the first half of record 2,
#            then (after 0.3 s) the rest: the frames of record 1 must be
#            answered before the rest of record 2 is sent ("early")
# status (of the upgrade), error (a string or null).
import argparse
import base64
import hashlib
import json
import os
import select
import socket
import ssl
import struct
import time


def frame(opcode, payload):
    key = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    head += bytes([0x80 | n]) if n < 126 else \
        bytes([0x80 | 126]) + struct.pack('!H', n)
    return head + key + bytes(c ^ key[i & 3] for i, c in enumerate(payload))


class Conn:
    def __init__(self, a):
        self.a = a
        self.sock = socket.create_connection(('127.0.0.1', a.port),
                                             timeout=a.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl.create_default_context(cafile=a.ca)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out,
                                server_hostname='localhost')
        self.plain = b''
        deadline = time.time() + a.timeout
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.push()
                if not self.pull(deadline):
                    raise IOError('TLS handshake timed out')
        self.push()

    def push(self, pieces=None, delay=0):
        """Writes what the TLS object produced, in pieces of the given size."""
        data = self.out.read()
        step = pieces or len(data) or 1
        for i in range(0, len(data), step):
            self.sock.sendall(data[i:i + step])
            if delay and i + step < len(data):
                time.sleep(delay)

    def record(self, data):
        """Encrypts data as one TLS record (kept in the out BIO)."""
        self.tls.write(data)

    def pull(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        d = self.sock.recv(65536)
        if not d:
            return False
        self.inc.write(d)
        while True:
            try:
                d = self.tls.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not d:
                break
            self.plain += d
        return True

    def read_head(self, deadline):
        while b'\r\n\r\n' not in self.plain:
            if not self.pull(deadline):
                return None
        head, self.plain = self.plain.split(b'\r\n\r\n', 1)
        return head.decode('latin-1')

    def read_frame(self, deadline):
        while True:
            d = self.plain
            if len(d) >= 2:
                n, off = d[1] & 0x7f, 2
                if n == 126 and len(d) >= 4:
                    n, off = struct.unpack('!H', d[2:4])[0], 4
                if n < 126 and len(d) >= off + n:
                    self.plain = d[off + n:]
                    return d[0] & 0x0f, d[off:off + n]
            if not self.pull(deadline):
                return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--ca', required=True)
    ap.add_argument('--path', default='/echo')
    ap.add_argument('--timeout', type=float, default=10)
    a = ap.parse_args()
    out = {'error': None, 'status': None}
    try:
        c = Conn(a)
        key = base64.b64encode(os.urandom(16)).decode()
        c.record(('GET %s HTTP/1.1\r\nHost: localhost:%d\r\n'
                  'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                  'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n'
                  % (a.path, a.port, key)).encode())
        c.push()
        head = c.read_head(time.time() + a.timeout) or ''
        out['status'] = int(head.split(' ')[1]) if head.startswith('HTTP/') \
            else 0
        want = base64.b64encode(hashlib.sha1(
            (key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode())
            .digest()).decode()
        out['accept_ok'] = ('sec-websocket-accept: ' + want).lower() \
            in head.lower()

        # 1. one frame, one record, written 3 bytes at a time
        c.record(frame(1, b'pieces of one record'))
        c.push(pieces=3, delay=0.005)
        t0 = time.time()
        f = c.read_frame(t0 + a.timeout)
        out['pieces'] = {'echo': f[1].decode('latin-1') if f else None,
                         'latency': round(time.time() - t0, 3)}

        # 2. ten frames in one record, one write
        c.record(b''.join(frame(1, b'R %d' % i) for i in range(10)))
        c.push()
        t0 = time.time()
        got = []
        while len(got) < 10:
            f = c.read_frame(t0 + a.timeout)
            if f is None:
                break
            got.append(f[1].decode('latin-1'))
        out['record'] = {'echoes': got, 'latency': round(time.time() - t0, 3)}

        # 3. record 1 (3 frames) + half of record 2; the rest 0.3 s later
        c.record(b''.join(frame(1, b'S %d' % i) for i in range(3)))
        rec1 = c.out.read()
        c.record(frame(1, b'S tail'))
        rec2 = c.out.read()
        half = len(rec2) // 2
        t0 = time.time()
        c.sock.sendall(rec1 + rec2[:half])
        early = []
        while len(early) < 3:
            f = c.read_frame(t0 + 0.3)
            if f is None:
                break
            early.append(f[1].decode('latin-1'))
        out_split = {'early': early,
                     'early_latency': round(time.time() - t0, 3)}
        time.sleep(max(0, t0 + 0.3 - time.time()))
        c.sock.sendall(rec2[half:])
        f = c.read_frame(time.time() + a.timeout)
        out_split['tail'] = f[1].decode('latin-1') if f else None
        out['split'] = out_split

        # close 1000
        c.record(frame(8, struct.pack('!H', 1000)))
        c.push()
        f = c.read_frame(time.time() + a.timeout)
        out['close'] = struct.unpack('!H', f[1][:2])[0] \
            if f and f[0] == 8 and len(f[1]) >= 2 else None
    except Exception as e:                       # reported, not raised
        out['error'] = '%s: %s' % (type(e).__name__, e)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
