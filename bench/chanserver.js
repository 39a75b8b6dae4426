// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// chanserver.js -- the node-ws broadcast server bench/channels measures
// next to mod_websocket and nchan: WebSocket subscribers at /sub/<ch>
// (one set per channel), and POST (or PUT) /pub/<ch> sends the request
// body as a text message to every subscriber of that channel, answering
// 201 (someone was subscribed) or 202 with a small JSON body.  One
// process, one thread, the `ws` module's plain broadcast (send() per
// client); no history, no bound on a slow subscriber's queue.
//
//   NODE_PATH=/usr/share/nodejs node bench/chanserver.js PORT
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 18380);
const name = /^\/(sub|pub)\/([A-Za-z0-9_.-]{1,64})$/;
const channels = new Map(); // name -> Set of WebSocket

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

const server = http.createServer((req, res) => {
    const m = name.exec(req.url);
    if (!m || m[1] !== 'pub') {
        res.writeHead(404, { 'Content-Length': 0 });
        res.end();
        return;
    }
    if (req.method !== 'POST' && req.method !== 'PUT') {
        res.writeHead(405, { Allow: 'POST, PUT', 'Content-Length': 0 });
        res.end();
        return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const body = Buffer.concat(chunks);
        const subs = channels.get(m[2]);
        let n = 0;
        if (subs) {
            for (const ws of subs) {
                ws.send(body, { binary: false });
                n++;
            }
        }
        const out = JSON.stringify({ channel: m[2], subscribers: n });
        res.writeHead(n ? 201 : 202, {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(out),
        });
        res.end(out);
    });
});

server.on('upgrade', (req, socket, head) => {
    const m = name.exec(req.url);
    if (!m || m[1] !== 'sub') {
        socket.destroy();
        return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
        let subs = channels.get(m[2]);
        if (!subs) {
            subs = new Set();
            channels.set(m[2], subs);
        }
        subs.add(ws);
        ws.on('close', () => {
            subs.delete(ws);
            if (subs.size === 0) {
                channels.delete(m[2]);
            }
        });
        ws.on('error', () => {});
    });
});

server.keepAliveTimeout = 300000;
server.headersTimeout = 310000;
server.requestTimeout = 0;
server.listen(port, '127.0.0.1', 4096);
process.on('SIGTERM', () => process.exit(0));
