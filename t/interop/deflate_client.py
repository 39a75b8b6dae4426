#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# permessage-deflate interop client for t/deflate.t: python3-websockets
# (Debian, 10.x) with its default compression (it offers
# "permessage-deflate; client_max_window_bits", as Chromium does) echoes
# text and binary messages from 0 B to 4 MiB through an echo endpoint,
# both directions compressed, and prints ONE JSON object.
# Usage: deflate_client.py ws://127.0.0.1:PORT/pmd
import asyncio
import json
import os
import sys

import websockets

TIMEOUT = float(os.environ.get("WS_TEST_TIMEOUT", "10"))


def corpus():
    lorem = "Lorem ipsum dolor sit amet \u00e9\u00e8 \u2713 "
    for n in (0, 1, 100, 1000, 65536, 300000, 4 * 2**20):
        yield (lorem * (n // len(lorem) + 1))[:n]
        yield bytes((i * 31 + (i >> 9)) & 255 for i in range(n))
    yield os.urandom(200000)


async def run(url, out):
    async with websockets.connect(url, compression="deflate",
                                  max_size=8 * 2**20, ping_interval=None,
                                  open_timeout=TIMEOUT,
                                  close_timeout=TIMEOUT) as ws:
        out["extensions"] = ws.response_headers.get(
            "Sec-WebSocket-Extensions", "")
        out["negotiated"] = [repr(e) for e in ws.extensions]
        n = 0
        for m in corpus():
            await ws.send(m)
            r = await asyncio.wait_for(ws.recv(), TIMEOUT * 3)
            if r != m:
                out["mismatch"] = "%s of %d" % (type(m).__name__, len(m))
                return
            n += 1
        out["echoed"] = n
        out["ok"] = bool(ws.extensions)


def main():
    out = {"ok": False}
    try:
        asyncio.run(run(sys.argv[1], out))
    except Exception as e:  # reported, not raised
        out["error"] = "%s: %s" % (type(e).__name__, e)
        out["ok"] = False
    print(json.dumps(out))


main()
