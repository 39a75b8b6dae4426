// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// permessage-deflate interop client for t/deflate.t: node-ws (Debian) with
// perMessageDeflate (threshold 0: every message compressed; it offers
// "permessage-deflate; client_max_window_bits") echoes text and binary
// messages from 0 B to 4 MiB through an echo endpoint and prints ONE JSON
// object.  Usage: NODE_PATH=/usr/share/nodejs node deflate_client.js URL
'use strict';
const WebSocket = require('ws');
const crypto = require('crypto');

const TIMEOUT = 1000 * Number(process.env.WS_TEST_TIMEOUT || 10);
const out = { ok: false };
const done = () => { console.log(JSON.stringify(out)); process.exit(0); };
setTimeout(() => { out.error = 'timeout'; done(); }, TIMEOUT * 6).unref();

const msgs = [];
const lorem = 'Lorem ipsum dolor sit amet \u00e9\u00e8 \u2713 ';
for (const n of [0, 1, 100, 1000, 65536, 300000, 4 << 20]) {
  msgs.push(lorem.repeat(Math.ceil(n / lorem.length) + 1).slice(0, n));
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 9)) & 255;
  msgs.push(b);
}
msgs.push(crypto.randomBytes(200000));

const ws = new WebSocket(process.argv[2], {
  perMessageDeflate: { threshold: 0 }, maxPayload: 8 << 20,
  handshakeTimeout: TIMEOUT,
});
let i = 0;
ws.on('open', () => {
  out.extensions = out.header || '';
  ws.send(msgs[0]);
});
ws.on('message', (data, isBinary) => {
  const m = msgs[i];
  const same = typeof m === 'string'
    ? !isBinary && data.toString('utf8') === m
    : isBinary && Buffer.compare(Buffer.from(data), m) === 0;
  if (!same) {
    out.mismatch = `${typeof m} of ${m.length}`;
    ws.close(1000);
    return;
  }
  i++;
  if (i < msgs.length) { ws.send(msgs[i]); return; }
  out.echoed = i;
  out.ok = out.extensions.startsWith('permessage-deflate');
  ws.close(1000);
});
ws.on('upgrade', (res) => {
  out.header = res.headers['sec-websocket-extensions'] || '';
});
ws.on('close', (code) => { out.close = code; done(); });
ws.on('error', (e) => { out.error = String(e); done(); });
