#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# h2ws.py -- WebSocket over HTTP/2 (RFC 8441 extended CONNECT) test client
# for t/stack.t, built on python3-h2.  Run it with /usr/bin/python3 (the
# Debian interpreter that has the h2 package).
#
#   h2ws.py --port N [--tls --ca FILE] [--host 127.0.0.1] [--path /echo]
#           [--authority localhost:N] [--timeout S] [--header k=v ...]
#           [--end-stream] SCRIPT
#
# --end-stream sends the extended CONNECT with END_STREAM on its HEADERS
# frame (the client's side closed at once).  permessage-deflate (RFC 7692)
# is spoken when the server's 200 accepts it (--header
# sec-websocket-extensions=...): frames with RSV1 are inflated (their
# "payload" is the inflated message, "length" stays the length on the
# wire), with the windows and context takeover the response names.
#
# SCRIPT is a JSON list of actions (or @FILE holding one), run in order:
#   ["text", S] ["binary", S] ["ping", S] ["pong", S]   one masked frame
#       (S: a string whose code points 0..255 are the bytes)
#   ["close", CODE or null, REASON]                    a close frame
#   ["split", OPCODE, S, N]   one frame written as DATA frames of N bytes
#   ["batch", [[OPCODE, S], ...]]   several frames in ONE DATA frame
#   ["ztext", S] ["zbinary", S]   one compressed message (permessage-
#                             deflate, RSV1 set)
#   ["read", N, SECS]         read N WebSocket frames
#   ["read_close", SECS]      read frames up to the close frame, then wait
#                             for the end of the stream
#   ["quiet", SECS]           no frame may arrive for SECS
#   ["sleep", SECS]
#   ["wait_end", SECS]        wait for the end of the stream
#   ["reset"]                 RST_STREAM (CANCEL) on the WebSocket stream
#   ["drop"]                  close the TCP connection without a word
#   ["senders", SECS]         the /senders scenario of t/threads.t (64 plugin
#                             threads x 200 binary messages while we send
#                             1000 texts, then "done"): checks every byte
# Prints one JSON object: alpn, connect_protocol (the server's
# SETTINGS_ENABLE_CONNECT_PROTOCOL), status, headers, results (one per
# action), frames (every frame read, in order), end ("end_stream",
# "reset:CODE", "goaway", "eof" or null), error (a string or null).
# Every wait is bounded by a deadline; nothing blocks longer than asked.
import argparse
import json
import os
import select
import ssl
import struct
import sys
import time
import zlib

from h2sock import connect_protocol, open_h2_socket

import h2.config
import h2.connection
import h2.events


def encode_frame(opcode, payload, fin=True):
    """A masked client frame (RFC 6455 section 5.2)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack('!H', n)
    else:
        head += bytes([0x80 | 127]) + struct.pack('!Q', n)
    key = os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return head + key + masked


def b(s):
    return s.encode('latin-1') if isinstance(s, str) else bytes(s)


class Deflate:
    """permessage-deflate as the server's answer (RFC 7692 section 7)
    negotiated it."""

    def __init__(self, answer):
        p = {}
        for part in answer.split(';')[1:]:
            k, _, v = part.strip().partition('=')
            p[k.lower()] = v.strip('"')
        self.cbits = int(p.get('client_max_window_bits') or 15)
        self.sbits = int(p.get('server_max_window_bits') or 15)
        self.c_reset = 'client_no_context_takeover' in p
        self.s_reset = 'server_no_context_takeover' in p
        self.comp = self.decomp = None

    def compress(self, data):
        if self.comp is None or self.c_reset:
            self.comp = zlib.compressobj(wbits=-self.cbits)
        out = self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b'\x00\x00\xff\xff')
        return out[:-4]

    def inflate(self, data):
        if self.decomp is None or self.s_reset:
            self.decomp = zlib.decompressobj(wbits=-self.sbits)
        return self.decomp.decompress(data + b'\x00\x00\xff\xff')


class H2WS:
    def __init__(self, a):
        self.a = a
        self.buf = b''
        self.frames = []
        self.end = None
        self.eof = False
        self.status = None
        self.headers = {}
        self.connect_protocol = None
        self.deflate = None
        self.sock, self.alpn = open_h2_socket(a)
        cfg = h2.config.H2Configuration(client_side=True,
                                        header_encoding='utf-8')
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        self.flush()
        self.sid = None

    # ---- transport ------------------------------------------------------
    def flush(self):
        data = self.conn.data_to_send()
        while data:
            try:
                n = self.sock.send(data)
                data = data[n:]
            except (ssl.SSLWantWriteError, BlockingIOError):
                select.select([], [self.sock], [], 1)
            except ssl.SSLWantReadError:
                select.select([self.sock], [], [], 1)

    def pump(self, deadline):
        """Reads once (until deadline) and handles the h2 events; returns
        False on timeout or EOF."""
        if self.eof:
            return False
        pending = self.a.tls and self.sock.pending()
        if not pending:
            left = deadline - time.time()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLWantReadError, BlockingIOError):
            return True
        except (ConnectionResetError, ssl.SSLError):
            data = b''
        if not data:
            self.eof = True
            if self.end is None:
                self.end = 'eof'
            return False
        for ev in self.conn.receive_data(data):
            self.on_event(ev)
        self.flush()
        return True

    def on_event(self, ev):
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            self.connect_protocol = connect_protocol(ev,
                                                     self.connect_protocol)
        elif isinstance(ev, h2.events.ResponseReceived):
            for k, v in ev.headers:
                if k == ':status':
                    self.status = int(v)
                else:
                    self.headers[k] = (self.headers[k] + ', ' + v
                                       if k in self.headers else v)
        elif isinstance(ev, h2.events.DataReceived):
            self.buf += ev.data
            self.conn.acknowledge_received_data(
                ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self.end = self.end or 'end_stream'
        elif isinstance(ev, h2.events.StreamReset):
            self.end = self.end or 'reset:%d' % ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.end = self.end or 'goaway'
            self.eof = True

    def wait_settings(self, deadline):
        while self.connect_protocol is None and self.pump(deadline):
            pass

    # ---- the WebSocket stream --------------------------------------------
    def open(self):
        a = self.a
        deadline = time.time() + a.timeout
        self.wait_settings(deadline)
        self.sid = self.conn.get_next_available_stream_id()
        hdrs = [(':method', 'CONNECT'), (':protocol', 'websocket'),
                (':scheme', 'https' if a.tls else 'http'),
                (':path', a.path), (':authority', a.authority),
                ('sec-websocket-version', '13')]
        for h in a.header:
            k, v = h.split('=', 1)
            hdrs.append((k.lower(), v))
        self.conn.send_headers(self.sid, hdrs, end_stream=a.end_stream)
        self.flush()
        while self.status is None and self.end is None and self.pump(deadline):
            pass
        ext = self.headers.get('sec-websocket-extensions', '')
        if ext.split(';')[0].strip() == 'permessage-deflate':
            self.deflate = Deflate(ext)

    def send_data(self, data, deadline):
        while data:
            if self.end is not None:
                raise IOError('stream ended')
            win = min(self.conn.local_flow_control_window(self.sid),
                      self.conn.max_outbound_frame_size)
            if win <= 0:
                if not self.pump(deadline):
                    raise IOError('flow control window stays closed')
                continue
            self.conn.send_data(self.sid, data[:win])
            data = data[win:]
            self.flush()

    def next_frame(self, deadline):
        while True:
            f = self.parse()
            if f is not None:
                self.frames.append(f)
                return f
            if self.end is not None and not self.buf:
                return None
            if not self.pump(deadline):
                return None

    def parse(self):
        d = self.buf
        if len(d) < 2:
            return None
        n, off = d[1] & 0x7f, 2
        if n == 126:
            if len(d) < 4:
                return None
            n, off = struct.unpack('!H', d[2:4])[0], 4
        elif n == 127:
            if len(d) < 10:
                return None
            n, off = struct.unpack('!Q', d[2:10])[0], 10
        masked = bool(d[1] & 0x80)
        if masked:
            off += 4
        if len(d) < off + n:
            return None
        p = d[off:off + n]
        self.buf = d[off + n:]
        f = {'opcode': d[0] & 0x0f, 'fin': (d[0] >> 7) & 1,
             'rsv': (d[0] >> 4) & 7, 'masked': masked, 'length': n}
        if f['opcode'] == 8 and n >= 2:
            f['code'] = struct.unpack('!H', p[:2])[0]
            f['reason'] = p[2:].decode('latin-1')
        if f['rsv'] & 4 and self.deflate and f['opcode'] in (1, 2):
            # (the servers under test send compressed messages unfragmented)
            p = self.deflate.inflate(p)
        f['payload'] = p.decode('latin-1')
        f['_raw'] = p
        return f

    # ---- actions ----------------------------------------------------------
    def run(self, script):
        results = []
        for act in script:
            name, args = act[0], act[1:]
            t0 = time.time()
            r = getattr(self, 'do_' + name)(*args)
            r = r or {}
            r['action'] = name
            r['secs'] = round(time.time() - t0, 3)
            results.append(r)
        return results

    def _send(self, opcode, s):
        self.send_data(encode_frame(opcode, b(s)),
                       time.time() + self.a.timeout)

    def do_text(self, s):
        self._send(1, s)

    def do_binary(self, s):
        self._send(2, s)

    def _zsend(self, opcode, s):
        frame = bytearray(encode_frame(opcode, self.deflate.compress(b(s))))
        frame[0] |= 0x40                                # RSV1
        self.send_data(bytes(frame), time.time() + self.a.timeout)

    def do_ztext(self, s):
        self._zsend(1, s)

    def do_zbinary(self, s):
        self._zsend(2, s)

    def do_ping(self, s):
        self._send(9, s)

    def do_pong(self, s):
        self._send(10, s)

    def do_close(self, code=None, reason=''):
        p = b'' if code is None else struct.pack('!H', code) + b(reason)
        self.send_data(encode_frame(8, p), time.time() + self.a.timeout)

    def do_split(self, opcode, s, n):
        data = encode_frame(opcode, b(s))
        deadline = time.time() + self.a.timeout
        for i in range(0, len(data), n):
            self.send_data(data[i:i + n], deadline)

    def do_batch(self, frames):
        data = b''.join(encode_frame(op, b(s)) for op, s in frames)
        self.send_data(data, time.time() + self.a.timeout)

    def do_read(self, n, secs):
        deadline = time.time() + secs
        got = 0
        while got < n and self.next_frame(deadline) is not None:
            got += 1
        return {'got': got}

    def do_read_close(self, secs):
        deadline = time.time() + secs
        while True:
            f = self.next_frame(deadline)
            if f is None:
                return {'close': None}
            if f['opcode'] == 8:
                break
        # the stream must end after the close frame
        while self.end is None and self.pump(deadline):
            pass
        return {'close': f.get('code'), 'trailing': len(self.buf)}

    def do_quiet(self, secs):
        f = self.next_frame(time.time() + secs)
        return {'quiet': f is None}

    def do_sleep(self, secs):
        time.sleep(secs)

    def do_wait_end(self, secs):
        deadline = time.time() + secs
        while self.end is None and self.pump(deadline):
            pass
        return {'end': self.end}

    def do_reset(self):
        """RST_STREAM (CANCEL): the client abandons the WebSocket."""
        self.conn.reset_stream(self.sid, error_code=8)
        self.flush()

    def do_drop(self):
        """Closes the TCP connection without a word."""
        self.sock.close()
        self.eof = True
        self.end = self.end or 'dropped'

    def do_senders(self, secs):
        """64 threads x 200 binary messages (t/plugins/ws_test_threads.c,
        senders_init) while we send 1000 texts and then "done"."""
        cycle = bytes(i & 0xff for i in range(4096 + 256))
        deadline = time.time() + secs
        nxt = {}
        bad = disorder = echoes = echo_bad = binaries = 0
        sent = 0
        close = None
        self.do_batch([[1, 'E %d' % i] for i in range(100)])
        sent = 100
        while time.time() < deadline:
            if sent < 1000:
                self._send(1, 'E %d' % sent)
                sent += 1
                if sent == 1000:
                    self._send(1, 'done')
            f = self.next_frame(time.time() + 0.002 if sent < 1000
                                else deadline)
            if f is None:
                if sent < 1000 and self.end is None:
                    continue
                break
            self.frames.pop()          # too many to report one by one
            if f['opcode'] == 8:
                close = f.get('code')
                break
            if f['opcode'] == 1:
                if f['_raw'] == b'E %d' % echoes:
                    echoes += 1
                else:
                    echo_bad += 1
                continue
            p = f['_raw']
            ok = (f['opcode'] == 2 and f['fin'] and not f['rsv']
                  and not f['masked'] and len(p) >= 3)
            t, i = (p[0], struct.unpack('!H', p[1:3])[0]) if ok else (-1, -1)
            size = 3 + (t * 2654435761 + i * 40503) % 4094
            start = (t * 131 + i * 7 + 3) & 0xff
            ok = ok and t < 64 and len(p) == size \
                and p[3:] == cycle[start:start + size - 3]
            if not ok:
                bad += 1
                continue
            binaries += 1
            if i != nxt.get(t, 0):
                disorder += 1
            nxt[t] = i + 1
        if close is not None:
            while self.end is None and self.pump(deadline):
                pass
        return {'binaries': binaries, 'bad': bad, 'disorder': disorder,
                'echoes': echoes, 'echo_bad': echo_bad, 'close': close,
                'threads_complete': sum(1 for t in range(64)
                                        if nxt.get(t) == 200)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--tls', action='store_true')
    ap.add_argument('--ca')
    ap.add_argument('--sni', default='localhost')
    ap.add_argument('--path', default='/echo')
    ap.add_argument('--authority')
    ap.add_argument('--timeout', type=float, default=10)
    ap.add_argument('--header', action='append', default=[])
    ap.add_argument('--end-stream', action='store_true')
    ap.add_argument('script')
    a = ap.parse_args()
    a.authority = a.authority or 'localhost:%d' % a.port
    out = {'error': None}
    c = None
    try:
        c = H2WS(a)
        c.open()
        if c.status is not None and 200 <= c.status < 300:
            script = a.script
            if script.startswith('@'):          # too big for argv
                with open(script[1:]) as fh:
                    script = fh.read()
            out['results'] = c.run(json.loads(script))
    except Exception as e:                      # reported, not raised
        out['error'] = '%s: %s' % (type(e).__name__, e)
    if c is not None:
        for f in c.frames:
            f.pop('_raw', None)
        out.update(alpn=c.alpn, connect_protocol=c.connect_protocol,
                   status=c.status, headers=c.headers, frames=c.frames,
                   end=c.end)
        out.setdefault('results', [])
    json.dump(out, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
