#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Real-browser check of the example pages: Debian's chromium, driven over
# WebDriver (chromedriver) with nothing but the Python standard library,
# loads client.html, increment.html and chat.html (two tabs in a room of
# a channel, a publish from the web application's side, a reconnect that
# resumes with last_id) from a running server and asserts what a user
# sees on them, over ws:// and wss://.  t/browser/run starts
# the server and calls this script; run by hand:
#   t/browser/browser.py --http http://127.0.0.1:P --https https://127.0.0.1:Q \
#       [--error-log FILE]
# Prints TAP-like lines ("ok N - ..." / "not ok N - ...") and a last line
# "browser: N passed, N failed"; exit status 0 only if nothing failed.
import argparse
import json
import os
import ssl
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"   # W3C WebDriver element key

# Flags for chromium as root on a machine without outside network access:
# without the background-networking ones it keeps trying to reach Google.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--ignore-certificate-errors",
    "--window-size=1024,768",
]


class Results:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name),
              flush=True)
        if not cond and diag:
            for line in str(diag).splitlines():
                print("#   " + line, flush=True)
        return cond


class WebDriver:
    """The few W3C WebDriver commands this test needs."""

    def __init__(self, url):
        self.url = url.rstrip("/")
        self.session = None

    def call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                val = json.loads(payload)["value"]
                msg = "%s: %s" % (val.get("error"), val.get("message"))
            except Exception:
                msg = payload[:500]
            raise RuntimeError("WebDriver %s %s: %s" % (method, path, msg))
        return json.loads(payload)["value"] if payload else None

    def start(self, chromium, user_data_dir):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": True,
            "goog:chromeOptions": {
                "binary": chromium,
                "args": CHROMIUM_ARGS + ["--user-data-dir=" + user_data_dir],
            },
        }}}
        val = self.call("POST", "/session", caps, timeout=60)
        self.session = val["sessionId"]
        return val

    def s(self, path):
        return "/session/%s%s" % (self.session, path)

    def quit(self):
        if self.session:
            try:
                self.call("DELETE", self.s(""), timeout=20)
            finally:
                self.session = None

    def get(self, url):
        self.call("POST", self.s("/url"), {"url": url})

    def find(self, css):
        val = self.call("POST", self.s("/element"),
                        {"using": "css selector", "value": css})
        return val[ELEMENT]

    def text(self, css):
        return self.call("GET", self.s("/element/%s/text" % self.find(css)))

    def click(self, css):
        self.call("POST", self.s("/element/%s/click" % self.find(css)), {})

    def type(self, css, text):
        self.call("POST", self.s("/element/%s/value" % self.find(css)),
                  {"text": text})

    def new_tab(self):
        return self.call("POST", self.s("/window/new"),
                         {"type": "tab"})["handle"]

    def switch(self, handle):
        self.call("POST", self.s("/window"), {"handle": handle})

    def handle(self):
        return self.call("GET", self.s("/window"))

    def close_tab(self):
        self.call("DELETE", self.s("/window"))

    def script(self, js, *args):
        return self.call("POST", self.s("/execute/sync"),
                         {"script": js, "args": list(args)})


def wait_for(fn, timeout, interval=0.05):
    """Polls fn() until it returns a true value; returns the last value."""
    deadline = time.time() + timeout
    while True:
        val = fn()
        if val or time.time() > deadline:
            return val
        time.sleep(interval)


def log_lines(wd):
    return wd.script("return Array.prototype.map.call("
                     "document.querySelectorAll('#log div'),"
                     "function (d) { return d.textContent; });")


def counter_value(wd):
    t = wd.text("#counter").strip()
    return int(t) if t.isdigit() else None


def echo_page(wd, res, base, label):
    wd.get(base + "/client.html")
    st = wait_for(lambda: wd.text("#status") == "connected" and "connected",
                  10)
    if not res.ok(st == "connected", "%s: echo page connected" % label,
                  "status: %r, log: %r" % (wd.text("#status"),
                                           log_lines(wd))):
        return
    scheme = "wss://" if base.startswith("https:") else "ws://"
    want = "connected to " + scheme + base.split("://", 1)[1] + "/echo"
    res.ok(want in log_lines(wd), "%s: the page says %r" % (label, want),
           "log: %r" % log_lines(wd))
    # typed like a user: keystrokes into #text, then the Send button
    msgs = ["hello from chromium", "h\u00e9llo w\u00f6rld \u20ac \U0001d11e"]
    for m in msgs:
        wd.type("#text", m)
        wd.click("#send")
        wait_for(lambda: ("< " + m) in log_lines(wd), 5)
    lines = log_lines(wd)
    for i, m in enumerate(msgs):
        res.ok(("> " + m) in lines and ("< " + m) in lines,
               "%s: typed message %d echoed (%s)"
               % (label, i + 1, "ASCII" if i == 0 else "non-ASCII UTF-8"),
               "log: %r" % lines)
    res.ok(wd.script("return document.getElementById('text').value;") == "",
           "%s: input cleared after sending" % label)
    # 70,000 characters: the browser sends a frame with a 64-bit length
    big = "".join(chr(0x61 + i % 26) for i in range(70000))
    wd.script("document.getElementById('text').value = arguments[0];", big)
    wd.click("#send")
    got = wait_for(lambda: ("< " + big) in log_lines(wd), 10)
    res.ok(bool(got), "%s: 70,000-character message echoed intact" % label)
    # several messages in a row come back in order
    for i in range(20):
        wd.type("#text", "burst %d" % i)
        wd.click("#send")
    want = ["< burst %d" % i for i in range(20)]
    got = wait_for(lambda: [l for l in log_lines(wd)
                            if l.startswith("< burst")] == want and True, 10)
    res.ok(bool(got), "%s: 20 messages echoed in order" % label,
           "received: %r" % [l for l in log_lines(wd)
                             if l.startswith("< burst")])
    res.ok(wd.text("#status") == "connected",
           "%s: echo page still connected" % label,
           "status: %r" % wd.text("#status"))


def increment_page(wd, res, base, label):
    wd.get(base + "/increment.html")
    st = wait_for(lambda: wd.text("#status") == "connected" and "connected",
                  10)
    if not res.ok(st == "connected", "%s: increment page connected" % label,
                  "status: %r" % wd.text("#status")):
        return
    # the plugin sends 0, 1, 2, ... every 50 ms
    v1 = wait_for(lambda: (counter_value(wd) or 0) >= 5
                  and counter_value(wd), 5)
    v2 = wait_for(lambda: (counter_value(wd) or 0) >= (v1 or 0) + 10
                  and counter_value(wd), 5)
    res.ok(v1 and v2 and v2 > v1, "%s: counter counts up (%s -> %s)"
           % (label, v1, v2))
    v3 = wait_for(lambda: (counter_value(wd) or 0) >= 40
                  and counter_value(wd), 5)
    wd.click("#reset")
    low = wait_for(lambda: (lambda v: v is not None and v < 10 and v + 1)
                   (counter_value(wd)), 5)
    res.ok(bool(low), "%s: Reset sets the counter back (%s -> %s)"
           % (label, v3, (low or 1) - 1 if low else counter_value(wd)))
    v4 = wait_for(lambda: (counter_value(wd) or 0) >= 15
                  and counter_value(wd), 5)
    res.ok(bool(v4) and (v3 or 0) >= 40,
           "%s: counter counts on after the reset (%s)" % (label, v4))
    res.ok(wd.text("#status") == "connected",
           "%s: increment page still connected" % label,
           "status: %r" % wd.text("#status"))


def chat_lines(wd):
    return wd.script("return Array.prototype.map.call("
                     "document.querySelectorAll('#log div.msg'),"
                     "function (d) { return d.textContent; });")


def post(url, body):
    """What `curl -d BODY URL` does: a form-encoded POST."""
    req = urllib.request.Request(url, data=body.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    ctx = ssl._create_unverified_context()      # the test's own certificate
    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
        return r.status, json.loads(r.read().decode())


def chat_page(wd, res, base, label):
    room = "browser-%s-%x" % (label, int(time.time() * 1000))
    page = "%s/chat.html?room=%s&name=" % (base, room)
    a = wd.handle()
    wd.get(page + "alice")
    b = wd.new_tab()
    wd.switch(b)
    wd.get(page + "bob")
    ok = True
    for h, who in ((a, "alice"), (b, "bob")):
        wd.switch(h)
        st = wait_for(lambda: wd.text("#status") == "connected", 10)
        ok = res.ok(st, "%s: chat page of %s connected" % (label, who),
                    "status: %r" % wd.text("#status")) and ok
    if not ok:
        wd.switch(b)
        wd.close_tab()
        wd.switch(a)
        return
    # bob types; both tabs show it
    wd.type("#text", "hello from bob")
    wd.click("#send")
    for h, who in ((b, "bob"), (a, "alice")):
        wd.switch(h)
        got = wait_for(lambda: "bob: hello from bob" in chat_lines(wd), 5)
        res.ok(got, "%s: %s's tab shows bob's message" % (label, who),
               "lines: %r" % chat_lines(wd))
    # the web application publishes with a POST (what curl -d does)
    code, j = post("%s/pub/%s" % (base, room), "news from curl")
    res.ok(code == 201 and j.get("subscribers") == 2,
           "%s: curl -d publish answered 201, 2 subscribers" % label,
           "%s %r" % (code, j))
    for h, who in ((a, "alice"), (b, "bob")):
        wd.switch(h)
        got = wait_for(lambda: "news from curl" in chat_lines(wd), 5)
        res.ok(got, "%s: the published message appears in %s's tab"
               % (label, who), "lines: %r" % chat_lines(wd))
    # alice goes away; bob and the application go on; alice comes back
    # with last_id and gets exactly what she missed
    wd.switch(a)
    before = chat_lines(wd)
    wd.click("#toggle")
    wait_for(lambda: wd.text("#status") == "closed", 5)
    wd.switch(b)
    for m in ("missed one", "missed two"):
        wd.type("#text", m)
        wd.click("#send")
    wait_for(lambda: "bob: missed two" in chat_lines(wd), 5)
    post("%s/pub/%s" % (base, room), "missed three")
    wait_for(lambda: "missed three" in chat_lines(wd), 5)
    wd.switch(a)
    wd.click("#toggle")
    want = before + ["bob: missed one", "bob: missed two", "missed three"]
    got = wait_for(lambda: chat_lines(wd) == want, 10)
    res.ok(got, "%s: reconnected with last_id, got the three missed "
           "messages once, in order" % label,
           "want %r\ngot  %r" % (want, chat_lines(wd)))
    wd.switch(b)
    wd.close_tab()
    wd.switch(a)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--https", help="https://127.0.0.1:PORT")
    ap.add_argument("--error-log", help="httpd error_log to scan at the end")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = ap.parse_args()

    res = Results()
    for prog in (args.chromium, args.chromedriver):
        if not os.access(prog, os.X_OK):
            res.ok(False, "%s is installed (apt-get install chromium "
                   "chromium-driver)" % prog)
            print("browser: %d passed, %d failed" % (res.n - res.failed,
                                                     res.failed))
            return 1

    profile = tempfile.mkdtemp(prefix="ws-browser-profile.")
    port = free_port()
    drv_log = open(os.path.join(profile, "chromedriver.log"), "w")
    # own process group: everything chromedriver starts (chromium and its
    # helpers) can be ended with it, by this group id only
    drv = subprocess.Popen([args.chromedriver, "--port=%d" % port,
                            "--allowed-ips=127.0.0.1"],
                           stdout=drv_log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    wd = WebDriver("http://127.0.0.1:%d" % port)
    t0 = time.time()
    try:
        up = wait_for(lambda: _status_ready(wd), 20, 0.1)
        if not res.ok(up, "chromedriver started"):
            return 1
        caps = wd.start(args.chromium, os.path.join(profile, "profile"))
        print("# %s %s, chromedriver %s" % (
            caps["capabilities"].get("browserName"),
            caps["capabilities"].get("browserVersion"),
            caps["capabilities"].get("chrome", {})
                .get("chromedriverVersion", "?").split(" ")[0]), flush=True)
        pages = [("ws", args.http)]
        if args.https:
            pages.append(("wss", args.https))
        for label, base in pages:
            for check in (echo_page, increment_page, chat_page):
                try:
                    check(wd, res, base, label)
                except Exception as e:      # one broken page: go on
                    res.ok(False, "%s: %s ran through" % (label,
                                                          check.__name__), e)
        # the pages' connections end when the browser leaves them: that is
        # a client going away, never an error (STYLE.md 14)
        wd.get("about:blank")
        time.sleep(0.5)
        if args.error_log:
            bad = []
            with open(args.error_log, errors="replace") as f:
                for line in f:
                    if any(lvl in line for lvl in (
                            ":error]", ":crit]", ":alert]", ":emerg]")) \
                            or "exit signal" in line:
                        bad.append(line.rstrip())
            res.ok(not bad, "no error-level lines in the error_log",
                   "\n".join(bad[:10]))
    except Exception as e:
        res.ok(False, "browser session", e)
    finally:
        try:
            wd.quit()
        except Exception as e:
            print("# quitting the browser: %s" % e)
        try:
            os.killpg(drv.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            drv.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(drv.pid, signal.SIGKILL)
            drv.wait()
        # chromium's helpers may outlive chromedriver by a moment
        time.sleep(0.2)
        try:
            os.killpg(drv.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        drv_log.close()
        if res.failed:
            with open(os.path.join(profile, "chromedriver.log"),
                      errors="replace") as f:
                tail = f.read().splitlines()[-15:]
            for line in tail:
                print("# chromedriver: " + line)
        shutil.rmtree(profile, ignore_errors=True)
        print("# browser checks took %.1f s" % (time.time() - t0))
        print("browser: %d passed, %d failed" % (res.n - res.failed,
                                                 res.failed), flush=True)
    return 0 if res.failed == 0 else 1


def _status_ready(wd):
    try:
        return wd.call("GET", "/status", timeout=2).get("ready")
    except Exception:
        return False


if __name__ == "__main__":
    sys.exit(main())
