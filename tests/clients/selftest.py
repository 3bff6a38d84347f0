#!/usr/bin/env python3
"""Self-test of xmppc.py against a real Prosody (tests/peers/prosody.py).

Proves that the client driver the Rust tests rely on works, independently of
Switchboard: login over STARTTLS and direct TLS with chosen SASL mechanisms,
certificate checks, messages, subscriptions, roster pushes, disco, version,
ping, carbons and XEP-0198 resumption after a dropped TCP connection.

    tests/.venv/bin/python tests/clients/selftest.py [-v] [-k NAME]

Prints one line per check and closes with `N passed, N failed`.
"""

import argparse
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "peers"))
from prosody import Prosody  # noqa: E402

XMPPC = HERE / "xmppc.py"
VERBOSE = False


class Client:
    """A running xmppc.py, with expect() over its events (like tests/common)."""

    def __init__(self, server, jid, password, *flags, tls="starttls", name=None):
        port = server.addr("direct_tls" if tls == "direct" else "c2s")[1]
        self.name = name or jid
        self.proc = subprocess.Popen(
            [sys.executable, str(XMPPC), "--jid", jid, "--password", password,
             "--host", server.ip, "--port", str(port), "--tls", tls,
             "--ca", str(server.ca_cert), "--log-level", "DEBUG", *flags],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1)
        self.events = queue.Queue()
        self.backlog = []
        self.seen = []
        self.stderr = []
        self.tags = 0
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr),
                         daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            event = json.loads(line)
            if VERBOSE:
                print(f"    [{self.name}] {line.strip()[:300]}")
            self.events.put(event)
        self.events.put(None)

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def expect(self, pred, timeout=10.0, what=""):
        for i, event in enumerate(self.backlog):
            if pred(event):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                event = None
            if event is None:
                tail = "".join(self.stderr[-30:])
                raise AssertionError(f"{self.name}: no event matching {what} in {timeout}s; "
                                     f"seen: {json.dumps(self.seen)[-3000:]}\nstderr tail:\n{tail}")
            self.seen.append(event)
            if pred(event):
                return event
            self.backlog.append(event)

    def event(self, name, timeout=10.0, **fields):
        return self.expect(lambda e: e["event"] == name
                           and all(e.get(k) == v for k, v in fields.items()),
                           timeout, what=f"{name} {fields}")

    def request(self, wait=15.0, **cmd):
        self.tags += 1
        tag = f"t{self.tags}"
        self.send(tag=tag, **cmd)
        return self.expect(lambda e: e.get("tag") == tag, wait, what=f"reply to {cmd}")

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send(cmd="disconnect")
                self.proc.wait(5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def starttls_scram_sha256_and_message(server):
    a = Client(server, "alice@customer.test", "secret", "--mech", "SCRAM-SHA-256",
               "--resource", "laptop")
    b = Client(server, "bob@customer.test", "secret2")
    try:
        assert a.event("auth_success")["mechanism"] == "SCRAM-SHA-256"
        # Unforced, slixmpp prefers SCRAM over PLAIN.
        assert b.event("auth_success")["mechanism"] == "SCRAM-SHA-256"
        start = a.event("session_start")
        assert start["jid"] == "alice@customer.test/laptop", start
        assert start["sm"] is True, start
        # To Bob's full JID: to his bare JID the message would race his
        # initial presence, and Prosody would store it offline (with a delay).
        bob = b.event("session_start")["jid"]
        ok = a.request(cmd="message", to=bob, body="hello bob", id="m1")
        assert ok["event"] == "ok" and ok["id"] == "m1", ok
        msg = b.event("message", body="hello bob")
        assert msg["from"] == "alice@customer.test/laptop" and msg["type"] == "chat", msg
        assert msg["id"] == "m1" and msg["carbon"] is None and msg["delay"] is None, msg
        assert "<body>hello bob</body>" in msg["xml"], msg
    finally:
        a.close()
        b.close()


@check
def direct_tls_plain(server):
    a = Client(server, "alice@customer.test", "secret", "--mech", "PLAIN", tls="direct")
    try:
        assert a.event("auth_success")["mechanism"] == "PLAIN"
        a.event("session_start")
    finally:
        a.close()


@check
def scram_sha1_on_a_sha1_prosody(_server):
    # Prosody 0.12 offers the one SCRAM hash it stores: start one storing SHA-1.
    with tempfile.TemporaryDirectory(prefix="xmppc-sha1-") as tmp:
        with Prosody(tmp, users=[("carol@customer.test", "pw")], password_hash="SHA-1") as sha1:
            offered = Client(sha1, "carol@customer.test", "pw", "--mech", "SCRAM-SHA-256")
            forced = Client(sha1, "carol@customer.test", "pw", "--mech", "SCRAM-SHA-1")
            try:
                ev = offered.event("auth_failed")
                assert ev["condition"] == "no-usable-mechanism", ev
                assert forced.event("auth_success")["mechanism"] == "SCRAM-SHA-1"
                forced.event("session_start")
            finally:
                offered.close()
                forced.close()


@check
def wrong_password(server):
    a = Client(server, "alice@customer.test", "nope", "--mech", "SCRAM-SHA-256")
    try:
        fail = a.event("auth_failed")
        assert fail["condition"] == "not-authorized" and fail["mechanism"] == "SCRAM-SHA-256", fail
        a.event("disconnected")
    finally:
        a.close()


@check
def untrusted_certificate(server):
    # The system CAs alone do not trust the test CA: TLS must fail.
    a = Client(server, "alice@customer.test", "secret", "--ca", "/etc/ssl/certs/ca-certificates.crt")
    try:
        ev = a.expect(lambda e: e["event"] in ("tls_failed", "connection_failed"),
                      what="tls_failed")
        assert "CERTIFICATE_VERIFY_FAILED" in ev["reason"] or ev["event"] == "tls_failed", ev
    finally:
        a.close()


@check
def certificate_name_is_checked(_server):
    # evil.test is served with customer.test's certificate (signed by the
    # trusted CA): the client must refuse it because the name does not match.
    with tempfile.TemporaryDirectory(prefix="xmppc-name-") as tmp:
        peer = Prosody(tmp, domains=["customer.test", "evil.test"])
        peer.write_files()
        for ext in ("crt", "key"):
            src = Path(tmp, "pki", f"customer.test.{ext}")
            Path(tmp, "pki", f"evil.test.{ext}").write_bytes(src.read_bytes())
        with peer:
            for tls in ("starttls", "direct"):
                a = Client(peer, "alice@evil.test", "x", tls=tls)
                try:
                    ev = a.expect(lambda e: e["event"] in ("tls_failed", "connection_failed",
                                                           "auth_failed", "session_start"),
                                  what="TLS failure")
                    assert ev["event"] in ("tls_failed", "connection_failed"), ev
                    assert "evil.test" in ev["reason"] or "mismatch" in ev["reason"] \
                        or "CERTIFICATE_VERIFY_FAILED" in ev["reason"], ev
                finally:
                    a.close()


@check
def stream_errors_are_reported(server):
    old = Client(server, "alice@customer.test", "secret", "--resource", "dup")
    try:
        old.event("session_start")
        new = Client(server, "alice@customer.test", "secret", "--resource", "dup")
        new.event("session_start")
        err = old.event("stream_error")
        assert err["condition"] == "conflict", err
        old.event("disconnected")
        new.request(cmd="raw", xml="<message><body>x</message>")
        err = new.event("stream_error")
        assert err["condition"] == "not-well-formed", err
        new.close()
    finally:
        old.close()


@check
def subscription_and_roster_push(server):
    a = Client(server, "alice@customer.test", "secret")
    b = Client(server, "bob@customer.test", "secret2")
    try:
        a.event("session_start")
        b.event("session_start")
        assert a.request(cmd="roster_set", jid="carol@customer.test", name="Carol",
                         groups=["Friends", "Work"])["event"] == "ok"
        push = a.event("roster_push")
        item = push["items"][0]
        item["groups"].sort()
        assert item == {"jid": "carol@customer.test", "name": "Carol", "subscription": "none",
                        "ask": None, "groups": ["Friends", "Work"]}, push
        assert a.request(cmd="subscribe", to="bob@customer.test")["event"] == "ok"
        push = a.event("roster_push", timeout=5)
        assert push["items"][0]["jid"] == "bob@customer.test", push
        assert push["items"][0]["ask"] == "subscribe", push
        sub = b.event("presence", type="subscribe")
        assert sub["from"] == "alice@customer.test", sub
        b.request(cmd="subscribed", to="alice@customer.test")
        a.expect(lambda e: e["event"] == "roster_push"
                 and e["items"][0]["jid"] == "bob@customer.test"
                 and e["items"][0]["subscription"] == "to", what="subscription=to push")
        a.event("presence", type="subscribed")
        # Bob is available: Alice gets his presence once subscribed.
        avail = a.expect(lambda e: e["event"] == "presence" and e["type"] == "available"
                         and (e["from"] or "").startswith("bob@customer.test/"),
                         what="bob available")
        assert avail["show"] is None
        roster = a.request(cmd="roster_get")
        assert roster["event"] == "roster", roster
        jids = {i["jid"]: i for i in roster["items"]}
        assert jids["bob@customer.test"]["subscription"] == "to", roster
        assert sorted(jids["carol@customer.test"]["groups"]) == ["Friends", "Work"], roster
        b.request(cmd="presence", show="away", status="lunch", priority=3)
        away = a.event("presence", show="away")
        assert away["status"] == "lunch" and away["priority"] == 3, away
        assert a.request(cmd="roster_remove", jid="carol@customer.test")["event"] == "ok"
        push = a.expect(lambda e: e["event"] == "roster_push"
                        and e["items"][0]["subscription"] == "remove", what="remove push")
        assert push["items"][0]["jid"] == "carol@customer.test"
        # Clean up for the other checks.
        a.request(cmd="roster_remove", jid="bob@customer.test")
        b.request(cmd="roster_remove", jid="alice@customer.test")
    finally:
        a.close()
        b.close()


@check
def disco_version_ping_iq(server):
    a = Client(server, "alice@customer.test", "secret", "--software-name", "Gajim",
               "--software-version", "1.9.5", "--caps-node", "https://gajim.org",
               "--resource", "desk")
    b = Client(server, "bob@customer.test", "secret2")
    try:
        a.event("session_start")
        b.event("session_start")
        info = a.request(cmd="disco_info", to="customer.test")
        assert info["event"] == "disco_info", info
        assert ["server", "im", "Prosody"] in info["identities"], info
        assert "urn:xmpp:carbons:2" in info["features"], info
        assert "urn:xmpp:ping" in info["features"], info
        ver = a.request(cmd="version", to="customer.test")
        assert ver["name"] == "Prosody" and ver["version"], ver
        pong = a.request(cmd="ping", to="customer.test")
        assert pong["event"] == "iq_result" and pong["type"] == "result", pong
        # Client-to-client: Bob asks Alice's client (XEP-0092 and disco identity).
        ver = b.request(cmd="version", to="alice@customer.test/desk")
        assert ver["event"] == "version", ver
        assert (ver["name"], ver["version"]) == ("Gajim", "1.9.5"), ver
        info = b.request(cmd="disco_info", to="alice@customer.test/desk")
        assert ["client", "pc", "Gajim"] in info["identities"], info
        # Generic iq; an error comes back as iq_result type=error.
        res = a.request(cmd="iq", type="get", to="customer.test",
                        xml="<query xmlns='jabber:iq:nonexistent'/>")
        assert res["event"] == "iq_result" and res["type"] == "error", res
        assert res["condition"] == "service-unavailable", res
        res = a.request(cmd="iq", type="get", to="customer.test",
                        xml="<time xmlns='urn:xmpp:time'/>")
        assert res["type"] == "result" and "urn:xmpp:time" in res["xml"], res
        items = a.request(cmd="disco_items", to="customer.test")
        assert items["event"] == "disco_items", items
        # Unknown commands and bad input are reported, not fatal.
        bad = a.request(cmd="nonsense")
        assert bad["event"] == "error", bad
        bad = a.request(cmd="message")
        assert bad["event"] == "error" and "to" in bad["message"], bad
    finally:
        a.close()
        b.close()


@check
def caps_in_presence(server):
    a = Client(server, "alice@customer.test", "secret", "--caps-node", "https://gajim.org",
               "--priority", "5")
    try:
        a.event("session_start")
        # Our own initial presence is reflected back to us.
        pres = a.expect(lambda e: e["event"] == "presence" and e["type"] == "available",
                        what="own presence")
        assert pres["caps_node"] == "https://gajim.org" and pres["caps_ver"], pres
        assert pres["priority"] == 5, pres
    finally:
        a.close()


@check
def carbons_between_two_resources(server):
    a1 = Client(server, "alice@customer.test", "secret", "--carbons", "--resource", "one")
    a2 = Client(server, "alice@customer.test", "secret", "--carbons", "--resource", "two")
    b = Client(server, "bob@customer.test", "secret2", "--resource", "phone")
    try:
        assert a1.event("session_start")["carbons"] is True
        a2.event("session_start")
        b.event("session_start")
        a1.request(cmd="message", to="bob@customer.test/phone", body="sent from one")
        b.event("message", body="sent from one")
        sent = a2.event("message", body="sent from one")
        assert sent["carbon"] == "sent", sent
        assert sent["from"] == "alice@customer.test/one", sent
        assert sent["to"] == "bob@customer.test/phone", sent
        b.request(cmd="message", to="alice@customer.test/one", body="reply to one")
        direct = a1.event("message", body="reply to one")
        assert direct["carbon"] is None
        recv = a2.event("message", body="reply to one")
        assert recv["carbon"] == "received" and recv["from"] == "bob@customer.test/phone", recv
    finally:
        for c in (a1, a2, b):
            c.close()


@check
def sm_resumption_after_tcp_drop(server):
    a = Client(server, "alice@customer.test", "secret", "--resource", "mobile")
    b = Client(server, "bob@customer.test", "secret2")
    try:
        a.event("sm", state="enabled")
        assert a.event("session_start")["sm"] is True
        b.event("session_start")
        assert a.request(cmd="drop_tcp")["event"] == "ok"
        a.event("disconnected", reconnecting=True)
        # Sent while Alice's TCP connection is gone: the server must keep it.
        b.request(cmd="message", to="alice@customer.test/mobile", body="while you were away")
        resumed = a.event("sm", state="resumed", timeout=15)
        assert resumed["jid"] == "alice@customer.test/mobile", resumed
        a.event("message", body="while you were away")
        # No new session was started.
        assert not any(e["event"] == "session_start" for e in a.backlog), a.backlog
        # The resumed stream still works both ways.
        a.request(cmd="message", to="bob@customer.test", body="back again")
        b.event("message", body="back again")
        ack = a.request(cmd="sm_request_ack")
        assert ack["event"] == "ok", ack
        a.event("acked", kind="message")
    finally:
        a.close()
        b.close()


@check
def drop_without_reconnect_then_reconnect(server):
    a = Client(server, "alice@customer.test", "secret", "--resource", "tablet")
    try:
        a.event("session_start")
        a.request(cmd="drop_tcp", reconnect=False)
        gone = a.event("disconnected")
        assert gone == {"event": "disconnected", "reason": "drop_tcp", "reconnecting": False}, gone
        # While disconnected an IQ gets no answer (it times out).
        assert a.request(cmd="ping", to="customer.test", timeout=1)["event"] == "error"
        assert a.request(cmd="reconnect", port=server.addr("c2s")[1])["event"] == "ok"
        a.event("sm", state="resumed")
        assert a.request(cmd="ping", to="customer.test")["type"] == "result"
    finally:
        a.close()


@check
def no_sm(server):
    a = Client(server, "alice@customer.test", "secret", "--no-sm", "--no-presence", "--no-roster")
    try:
        start = a.event("session_start")
        assert start["sm"] is False, start
        feats = [e for e in a.seen if e["event"] == "stream_features"]
        assert any("sm" in f["features"] for f in feats), feats
        assert not any(e["event"] in ("roster", "presence") for e in a.seen), a.seen
        err = a.request(cmd="sm_request_ack")
        assert err["event"] == "error", err
    finally:
        a.close()


@check
def raw_xml_and_clean_disconnect(server):
    a = Client(server, "alice@customer.test", "secret", "--resource", "raw")
    b = Client(server, "bob@customer.test", "secret2")
    try:
        a.event("session_start")
        # To Bob's full JID: a headline to his bare JID goes only to
        # resources Prosody has already seen available, and his presence
        # and this message race over two connections.
        bob = b.event("session_start")["jid"]
        a.request(cmd="raw", xml=f"<message xmlns='jabber:client' to='{bob}' "
                                 "type='headline' id='r1'><body>raw</body></message>")
        msg = b.event("message", id="r1")
        assert msg["type"] == "headline" and msg["body"] == "raw", msg
        # A message to nobody comes back as an error stanza.
        a.request(cmd="message", to="nobody@customer.test", body="x", id="e1")
        err = a.event("message", id="e1", type="error")
        assert err["condition"] == "service-unavailable", err
        assert a.request(cmd="disconnect")["event"] == "ok"
        gone = a.event("disconnected")
        assert gone["reconnecting"] is False, gone
        a.proc.wait(5)
        assert a.proc.returncode == 0
    finally:
        a.close()
        b.close()


@check
def eof_on_stdin_disconnects(server):
    a = Client(server, "alice@customer.test", "secret")
    a.event("session_start")
    a.proc.stdin.close()
    a.event("disconnected")
    assert a.proc.wait(5) == 0


@check
def plaintext_is_refused(server):
    # Prosody requires encryption; a clear-text client never gets to log in.
    a = Client(server, "alice@customer.test", "secret", "--mech", "PLAIN", tls="none")
    try:
        feats = a.event("stream_features")
        assert "starttls" in feats["features"], feats
        ev = a.expect(lambda e: e["event"] in ("negotiation_failed", "session_start"),
                      what="refusal")
        assert ev["event"] == "negotiation_failed", ev
    finally:
        a.close()


def main():
    global VERBOSE
    p = argparse.ArgumentParser()
    p.add_argument("-v", action="store_true", help="print every event")
    p.add_argument("-k", help="run only checks whose name contains this")
    p.add_argument("--keep", action="store_true", help="keep the Prosody dir")
    args = p.parse_args()
    VERBOSE = args.v
    checks = [c for c in CHECKS if not args.k or args.k in c.__name__]
    tmp = tempfile.mkdtemp(prefix="xmppc-selftest-")
    server = Prosody(tmp, domains=["customer.test"],
                     users=[("alice@customer.test", "secret"), ("bob@customer.test", "secret2")])
    passed = failed = 0
    started = time.monotonic()
    with server:
        for fn in checks:
            t0 = time.monotonic()
            try:
                fn(server)
                passed += 1
                print(f"ok    {fn.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL  {fn.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
                traceback.print_exc()
    if failed:
        print(f"prosody log tail:\n{server.log_tail(40)}")
    if not args.keep and not failed:
        subprocess.run(["rm", "-rf", tmp])
    else:
        print(f"prosody dir kept: {tmp}")
    print(f"xmppc self-test: {time.monotonic() - started:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
