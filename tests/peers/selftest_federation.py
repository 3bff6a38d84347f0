#!/usr/bin/env python3
"""Federation self-test of the peer harness: Prosody <-> ejabberd, no Switchboard.

Proves that tests/peers/prosody.py and tests/peers/ejabberd.py give two real
servers that federate over loopback, each on its own address with s2s on port
5269 and names resolved from the --host map only:

1. external: certificates from ONE CA that both trust; a message each way;
   both servers' logs must show SASL EXTERNAL authenticating both s2s streams
   and no dialback.
2. dialback: each server its own CA, not trusted by the other, and
   --insecure-s2s on both; messages still flow, authenticated by dialback.

    tests/.venv/bin/python tests/peers/selftest_federation.py [-v] [--keep]

Prints one line per round and a result line; exits non-zero on failure.
"""

import argparse
import shutil
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "clients"))
import selftest as clients  # noqa: E402  (tests/clients/selftest.py: Client)
from ejabberd import Ejabberd  # noqa: E402
from prosody import Prosody  # noqa: E402

P_DOMAIN, E_DOMAIN = "customer.test", "other.test"
ALICE, BOB = f"alice@{P_DOMAIN}", f"bob@{E_DOMAIN}"


def check_free(ip, port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError as exc:
            raise RuntimeError(f"{ip}:{port} is taken ({exc}): another run of this test, or "
                               "a system prosody/ejabberd service listening on *:5269?")


def require(log, *needles, absent=(), what=""):
    for n in needles:
        assert n in log, f"{what} log lacks {n!r}"
    for n in absent:
        assert n not in log, f"{what} log has {n!r}"


def exchange(prosody, ejabberd):
    """alice (Prosody) and bob (ejabberd) message each other; returns the
    latencies (first message, which sets up s2s, and the reply)."""
    alice = clients.Client(prosody, ALICE, "secret", "--resource", "a", name="alice")
    bob = clients.Client(ejabberd, BOB, "secret", "--resource", "b", name="bob")
    try:
        alice.event("session_start", timeout=20)
        bob.event("session_start", timeout=20)
        t0 = time.monotonic()
        alice.request(cmd="message", to=BOB, body="hello from prosody", id="p1")
        got = bob.event("message", body="hello from prosody", timeout=20)
        first = time.monotonic() - t0
        assert got["from"] == f"{ALICE}/a" and got["type"] == "chat", got
        t0 = time.monotonic()
        bob.request(cmd="message", to=f"{ALICE}/a", body="hello from ejabberd", id="e1")
        got = alice.event("message", body="hello from ejabberd", timeout=20)
        reply = time.monotonic() - t0
        assert got["from"] == f"{BOB}/b" and got["type"] == "chat", got
        assert not any(e["event"] == "message" and e["type"] == "error"
                       for c in (alice, bob) for e in c.backlog), "error messages seen"
        return first, reply
    finally:
        alice.close()
        bob.close()


def run_round(name, tmp, p_ip, e_ip, shared_ca):
    """Start both servers, exchange messages, return (prosody, ejabberd, timings)."""
    for ip in (p_ip, e_ip):
        check_free(ip, 5269)
    insecure = not shared_ca
    prosody = Prosody(tmp / f"{name}-prosody", domains=[P_DOMAIN], ip=p_ip, s2s_port=5269,
                      users=[(ALICE, "secret")], hosts={E_DOMAIN: e_ip},
                      s2s_secure_auth=not insecure)
    prosody.dir.mkdir(parents=True)
    t0 = time.monotonic()
    prosody.start()
    ca = dict(ca_cert=prosody.ca_cert, ca_key=prosody.ca_key) if shared_ca else {}
    ejabberd = Ejabberd(tmp / f"{name}-ejabberd", domains=[E_DOMAIN], ip=e_ip, s2s_port=5269,
                        users=[(BOB, "secret")], hosts={P_DOMAIN: p_ip},
                        s2s_secure_auth=not insecure, **ca)
    ejabberd.dir.mkdir(parents=True)
    try:
        ejabberd.start()
    except BaseException:
        prosody.stop()
        raise
    started = time.monotonic() - t0
    try:
        first, reply = exchange(prosody, ejabberd)
    except BaseException:
        stop_both(prosody, ejabberd)
        raise
    return prosody, ejabberd, (started, first, reply)


def stop_both(prosody, ejabberd):
    ejabberd.stop()
    prosody.stop()


def external_round(tmp):
    prosody, ejabberd, timings = run_round("external", tmp, "127.0.0.41", "127.0.0.42",
                                           shared_ca=True)
    stop_both(prosody, ejabberd)
    require(ejabberd.log(),
            f"Accepted inbound s2s EXTERNAL authentication {P_DOMAIN} -> {E_DOMAIN}",
            f"Accepted outbound s2s EXTERNAL authentication {E_DOMAIN} -> {P_DOMAIN}",
            absent=["dialback authentication"], what="ejabberd")
    require(prosody.log_tail(100000),
            f"Accepting SASL EXTERNAL identity from {E_DOMAIN}",
            f"SASL EXTERNAL with {E_DOMAIN} succeeded",
            absent=["dialback key"], what="prosody")
    return timings


def dialback_round(tmp):
    prosody, ejabberd, timings = run_round("dialback", tmp, "127.0.0.43", "127.0.0.44",
                                           shared_ca=False)
    stop_both(prosody, ejabberd)
    require(ejabberd.log(),
            f"Accepted inbound s2s dialback authentication {P_DOMAIN} -> {E_DOMAIN}",
            f"Accepted outbound s2s dialback authentication {E_DOMAIN} -> {P_DOMAIN}",
            absent=["Accepted inbound s2s EXTERNAL", "Accepted outbound s2s EXTERNAL"],
            what="ejabberd")
    require(prosody.log_tail(100000),
            "sent dialback key on outgoing s2s stream",
            f"asking {E_DOMAIN} if key",
            f"Incoming s2s connection {E_DOMAIN}->{P_DOMAIN} complete",
            f"Outgoing s2s connection {P_DOMAIN}->{E_DOMAIN} complete",
            absent=["Accepting SASL EXTERNAL identity"], what="prosody")
    return timings


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-v", action="store_true", help="print every client event")
    p.add_argument("--keep", action="store_true", help="keep the server dirs")
    args = p.parse_args()
    clients.VERBOSE = args.v
    tmp = Path(tempfile.mkdtemp(prefix="federation-selftest-"))
    started = time.monotonic()
    failed = 0
    for fn in (external_round, dialback_round):
        t0 = time.monotonic()
        try:
            up, first, reply = fn(tmp)
            print(f"ok    {fn.__name__} ({time.monotonic() - t0:.1f}s: servers up in {up:.1f}s, "
                  f"first message {first * 1000:.0f} ms, reply {reply * 1000:.0f} ms)",
                  flush=True)
        except Exception:
            failed += 1
            print(f"FAIL  {fn.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
            traceback.print_exc()
    if failed or args.keep:
        print(f"server dirs kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    verdict = "FAILED" if failed else "passed"
    print(f"federation self-test (Prosody <-> ejabberd): {2 - failed}/2 rounds {verdict} "
          f"in {time.monotonic() - started:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
