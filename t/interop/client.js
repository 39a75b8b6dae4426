// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// Interop client for t/interop.t: drives an echo endpoint with node-ws
// (Debian, 8.x; NODE_PATH=/usr/share/nodejs) and prints ONE JSON object
// with what the library reported.  Usage: node client.js ws://HOST:PORT/echo
// Every step is bounded by a timeout; a failed step is reported.
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');

const TIMEOUT = 1000 * Number(process.env.WS_TEST_TIMEOUT || 10);
const out = { library: 'node-ws ' + require('ws/package.json').version };
const done = () => { process.stdout.write(JSON.stringify(out) + '\n'); };
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

const watchdog = setTimeout(() => {
  out.error = out.error || 'timeout';
  done();
  process.exit(0);
}, TIMEOUT * 4);

const ws = new WebSocket(process.argv[2], { perMessageDeflate: false,
                                            maxPayload: 4 * 1024 * 1024,
                                            handshakeTimeout: TIMEOUT });
const queue = [];
let waiting = null;
ws.on('message', (data, isBinary) => {
  const m = { data, isBinary };
  if (waiting) { const w = waiting; waiting = null; w(m); } else queue.push(m);
});
const next = () => new Promise((resolve, reject) => {
  if (queue.length) return resolve(queue.shift());
  const t = setTimeout(() => reject(new Error('no message in time')), TIMEOUT);
  waiting = (m) => { clearTimeout(t); resolve(m); };
});
ws.on('error', (e) => { out.error = out.error || String(e); });

ws.on('open', async () => {
  out.connected = true;
  try {
    const text = 'Hello, interop \u2713 \u00e9\u00e8 \u{1F600}';
    ws.send(text);
    let m = await next();
    out.text_binary = m.isBinary;
    out.text = m.data.toString('utf8');
    out.text_sent = text;

    const binary = Buffer.alloc(1024);
    for (let i = 0; i < 1024; i++) binary[i] = i % 256;
    ws.send(binary);
    m = await next();
    out.binary_binary = m.isBinary;
    out.binary_len = m.data.length;
    out.binary_equal = Buffer.compare(m.data, binary) === 0;

    const big = crypto.randomBytes(1024 * 1024);
    ws.send(big);
    m = await next();
    out.big_binary = m.isBinary;
    out.big_len = m.data.length;
    out.big_sha_equal = sha(m.data) === sha(big);

    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no pong')), TIMEOUT);
      ws.once('pong', (data) => {
        clearTimeout(t);
        out.pong = data.toString() === 'interop-ping';
        out.pong_payload = data.toString();
        resolve();
      });
      ws.ping('interop-ping');
    });

    ws.close(1000, 'done');
  } catch (e) {
    out.error = String(e);
    ws.terminate();
  }
});

// 'close' fires after the closing handshake and the TCP close
ws.on('close', (code, reason) => {
  out.close_code = code;
  out.close_reason = reason.toString();
  out.closed = true;
  clearTimeout(watchdog);
  done();
});
