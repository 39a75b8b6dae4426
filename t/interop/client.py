#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Interop client for t/interop.t: drives an echo endpoint with
# python3-websockets (Debian, 10.x, asyncio API) and prints ONE JSON object
# with what the library reported.  Usage: client.py ws://127.0.0.1:PORT/echo
# Every step is bounded by a timeout; a failed step is reported, not raised.
import asyncio
import hashlib
import json
import os
import sys

import websockets

TIMEOUT = float(os.environ.get("WS_TEST_TIMEOUT", "10"))


def sha(b):
    return hashlib.sha256(b).hexdigest()


async def run(url, out):
    ws = await asyncio.wait_for(
        websockets.connect(url, compression=None, max_size=4 * 2**20,
                           ping_interval=None, open_timeout=TIMEOUT,
                           close_timeout=TIMEOUT),
        TIMEOUT)
    out["connected"] = True
    out["subprotocol"] = ws.subprotocol

    text = "Hello, interop \u2713 \u00e9\u00e8 \U0001F600"
    await ws.send(text)
    r = await asyncio.wait_for(ws.recv(), TIMEOUT)
    out["text_type"] = type(r).__name__
    out["text"] = r if isinstance(r, str) else None
    out["text_sent"] = text

    binary = bytes(range(256)) * 4
    await ws.send(binary)
    r = await asyncio.wait_for(ws.recv(), TIMEOUT)
    out["binary_type"] = type(r).__name__
    out["binary_len"] = len(r)
    out["binary_equal"] = isinstance(r, bytes) and r == binary

    big = os.urandom(2**20)
    await ws.send(big)
    r = await asyncio.wait_for(ws.recv(), TIMEOUT * 3)
    out["big_type"] = type(r).__name__
    out["big_len"] = len(r)
    out["big_sha_equal"] = isinstance(r, bytes) and sha(r) == sha(big)

    # ping: the library resolves the waiter when the matching pong arrives
    waiter = await ws.ping(b"interop-ping")
    await asyncio.wait_for(waiter, TIMEOUT)
    out["pong"] = True

    await asyncio.wait_for(ws.close(code=1000, reason="done"), TIMEOUT * 2)
    out["close_code"] = ws.close_code
    out["close_reason"] = ws.close_reason
    # websockets waits for the server to close TCP (close_timeout)
    await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
    out["closed"] = True


def main():
    out = {"library": "python3-websockets " + websockets.__version__}
    try:
        asyncio.run(run(sys.argv[1], out))
    except Exception as e:  # report, do not crash: the .t asserts fields
        out["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
