#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# A channel subscriber for t/channels.t on python3-websockets with its
# default permessage-deflate: connects, prints one line "ready
# <extensions>", then receives COUNT messages and prints them as ONE JSON
# object {"ok":..., "extensions":..., "messages":[[type, hex payload]]}.
# Usage: chan_subscriber.py ws://127.0.0.1:PORT/sub/NAME COUNT
import asyncio
import json
import os
import sys

import websockets

TIMEOUT = float(os.environ.get("WS_TEST_TIMEOUT", "10"))


async def run(url, count, out):
    async with websockets.connect(url, compression="deflate",
                                  ping_interval=None, open_timeout=TIMEOUT,
                                  close_timeout=TIMEOUT) as ws:
        out["extensions"] = ws.response_headers.get(
            "Sec-WebSocket-Extensions", "")
        print("ready " + out["extensions"], flush=True)
        for _ in range(count):
            m = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if isinstance(m, str):
                out["messages"].append(["text", m.encode().hex()])
            else:
                out["messages"].append(["binary", m.hex()])
        out["ok"] = True


def main():
    out = {"ok": False, "extensions": "", "messages": []}
    try:
        asyncio.run(run(sys.argv[1], int(sys.argv[2]), out))
    except Exception as e:      # reported in the JSON, judged by the test
        out["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
