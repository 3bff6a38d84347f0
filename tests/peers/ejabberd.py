#!/usr/bin/env python3
"""Run a real ejabberd (Debian's package) as a test peer, from a temp dir.

As a library:

    from ejabberd import Ejabberd
    e = Ejabberd("/tmp/x", domains=["other.test"], users=[("bob@other.test", "pw")])
    e.start()            # writes certs + config, starts it, waits, registers users
    e.addr("c2s")        # ("127.0.0.1", 41234)
    e.stop()

From the command line (what the Rust tests do):

    ejabberd.py start DIR --domain other.test --user bob@other.test=secret
        prints `ready c2s=IP:PORT s2s=IP:PORT ca=FILE` and returns, leaving
        ejabberd running in the background (PIDs in DIR/server.pid and
        DIR/ejabberd.pid, logs in DIR/log/ and DIR/ejabberd.out)
    ejabberd.py register DIR bob@other.test secret
    ejabberd.py stop DIR

`ejabberdctl foreground` (a copy of Debian's script in DIR, so that it runs
as the current user, root or not) runs with CONFIG_DIR=DIR, HOME=DIR/home, its
Mnesia spool in DIR/spool. Erlang distribution (for `ejabberdctl register`) listens
on a free port of the chosen address and needs no epmd (ERL_DIST_PORT makes
ejabberdctl pass `-start_epmd false`), so instances never share anything.
Names resolve from DIR/hosts only (inetrc `{lookup,[file]}` plus nss_wrapper
for getaddrinfo); remote servers are reached on port 5269 (no SRV).

s2s: STARTTLS required; peers are verified against our CA plus --trust files.
Without --insecure-s2s, mod_s2s_dialback is not loaded, so only SASL EXTERNAL
with a trusted certificate authenticates a stream (like Prosody's
s2s_secure_auth = true); with it, dialback is offered and used whenever
EXTERNAL fails, and outgoing streams no longer verify the peer's certificate.
Standard library only; needs ejabberd (ejabberdctl), openssl and
libnss-wrapper.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prosody import alive, free_port, make_ca, make_cert  # noqa: E402

SYSTEM_EJABBERDCTL = "/usr/sbin/ejabberdctl"
NSS_WRAPPER = "libnss_wrapper.so"

MODULES = {
    "mod_roster": {},
    "mod_disco": {},
    "mod_ping": {},
    "mod_version": {"show_os": False},
    "mod_time": {},
    "mod_caps": {},
    "mod_last": {},
    "mod_offline": {},
    "mod_carboncopy": {},
    "mod_stream_mgmt": {"resend_on_timeout": "if_offline"},
    "mod_private": {},
    "mod_privacy": {},
    "mod_blocking": {},
}


def yaml(value, indent=0):
    """YAML for dicts, lists and scalars (scalars as JSON, which YAML accepts)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{json.dumps(k)}:\n{yaml(v, indent + 1)}")
            else:
                lines.append(f"{pad}{json.dumps(k)}: {yaml(v)}")
        return "\n".join(lines)
    if isinstance(value, list):
        if not value:
            return "[]"
        lines = []
        for v in value:
            if isinstance(v, (dict, list)) and v:
                body = yaml(v, indent + 1).lstrip()
                lines.append(f"{pad}- {body}")
            else:
                lines.append(f"{pad}- {yaml(v)}")
        return "\n".join(lines)
    return json.dumps(value)


def erl_ip(ip):
    return "{" + ip.replace(".", ",") + "}"


def children(pid):
    """PIDs of the direct children of pid (Linux /proc)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


class Ejabberd:
    def __init__(self, directory, domains=("other.test",), ip="127.0.0.1", users=(),
                 c2s_port=None, s2s_port=None, ca_cert=None, ca_key=None, trust=(),
                 hosts=None, s2s_secure_auth=True, modules=None, loglevel="info",
                 extra_config=""):
        self.dir = Path(directory).resolve()
        self.domains = list(domains)
        self.ip = ip
        self.users = list(users)
        self.ports = {"c2s": c2s_port or free_port(ip), "s2s": s2s_port or free_port(ip)}
        self.ca_cert = Path(ca_cert).resolve() if ca_cert else self.dir / "ca.pem"
        self.ca_key = Path(ca_key).resolve() if ca_key else self.dir / "ca.key"
        self.trust = [Path(t).resolve() for t in trust]
        self.hosts = dict(hosts or {})  # name -> IP, the only name resolution
        self.s2s_secure_auth = s2s_secure_auth
        self.modules = dict(MODULES, **(modules or {}))
        self.loglevel = loglevel
        self.extra_config = extra_config
        self.config = self.dir / "ejabberd.yml"
        self.ctl_path = self.dir / "ejabberdctl"
        self.pidfile = self.dir / "server.pid"  # ejabberdctl (the shell script)
        self.beam_pidfile = self.dir / "ejabberd.pid"  # beam.smp, written by ejabberd

    # ------------------------------------------------------------ setup
    def write_files(self):
        for sub in ("pki", "spool", "log", "home"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        pki = self.dir / "pki"
        if not self.ca_cert.exists():
            make_ca(self.ca_cert, self.ca_key, name=f"ejabberd test CA {self.dir.name}")
        for domain in self.domains:
            if not (pki / f"{domain}.crt").exists():
                make_cert(domain, pki, self.ca_cert, self.ca_key)
        bundle = self.dir / "trusted.pem"
        bundle.write_text("".join(p.read_text() for p in [self.ca_cert, *self.trust]))
        hosts_file = self.dir / "hosts"
        entries = [("127.0.0.1", "localhost")] + [(self.ip, d) for d in self.domains]
        entries += [(ip, name) for name, ip in self.hosts.items()]
        hosts_file.write_text("".join(f"{ip} {name}\n" for ip, name in entries))
        # Erlang's own resolver: the hosts file only, no DNS servers at all.
        (self.dir / "inetrc").write_text(
            f'{{hosts_file, "{hosts_file}"}}.\n{{resolv_conf, ""}}.\n{{lookup, [file]}}.\n')
        self.config.write_text(self.render_config(bundle))
        self.write_ctl()
        self.write_ctl_config()

    def node_name(self):
        """Unique per directory, stable across restarts (Mnesia's schema names it)."""
        path = self.dir / "node"
        if not path.exists():
            path.write_text(f"ejabberd_{os.urandom(4).hex()}@{self.ip}\n")
        return path.read_text().strip()

    def write_ctl(self):
        """DIR/ejabberdctl: Debian's script, minus its `su ejabberd` when run by
        root and its refusal to run as anyone else (and, being another path,
        outside the package's AppArmor profile)."""
        text = Path(SYSTEM_EJABBERDCTL).read_text()
        patched = text.replace("\nINSTALLUSER=ejabberd\n", "\nINSTALLUSER=\n", 1)
        if patched == text:
            raise RuntimeError(f"{SYSTEM_EJABBERDCTL}: no INSTALLUSER=ejabberd line to patch")
        self.ctl_path.write_text(patched)
        self.ctl_path.chmod(0o755)

    def write_ctl_config(self):
        d = self.dir
        erl_opts = (f"-env ERL_CRASH_DUMP_BYTES 0 -kernel inet_dist_use_interface "
                    f"{erl_ip(self.ip)} +sbwt none +sbwtdcpu none +sbwtdio none")
        lines = {
            "EXEC_CMD": "as_current_user",
            "ERLANG_NODE": self.node_name(),
            # Distribution on a private port, no epmd (-start_epmd false).
            "ERL_DIST_PORT": str(free_port(self.ip)),
            "ERL_OPTIONS": erl_opts,
            "SPOOL_DIR": str(d / "spool"),
            "LOGS_DIR": str(d / "log"),
            "EJABBERD_PID_PATH": str(self.beam_pidfile),
            "EJABBERD_BYPASS_WARNINGS": "true",
            "CONTRIB_MODULES_PATH": str(d / "contrib"),
        }
        (d / "ejabberdctl.cfg").write_text(
            "# written by tests/peers/ejabberd.py\n"
            + "".join(f"{k}='{v}'\n" for k, v in lines.items()))

    def render_config(self, bundle):
        pki = self.dir / "pki"
        certfiles = [str(pki / f"{d}.{ext}") for d in self.domains for ext in ("crt", "key")]
        modules = dict(self.modules)
        if not self.s2s_secure_auth:
            modules["mod_s2s_dialback"] = {}
        config = {
            "hosts": self.domains,
            "loglevel": self.loglevel,
            "log_rotate_count": 0,
            "hide_sensitive_log_data": False,
            "certfiles": certfiles,
            "ca_file": str(bundle),
            "s2s_cafile": str(bundle),
            "c2s_cafile": str(bundle),
            "s2s_use_starttls": "required",
            "outgoing_s2s_families": ["ipv4"],
            "outgoing_s2s_ipv4_address": self.ip,
            "outgoing_s2s_port": 5269,
            "outgoing_s2s_timeout": 10,  # seconds
            "s2s_dns_timeout": 2,
            "s2s_dns_retries": 1,  # 0 would fail every lookup at once
            "auth_method": ["internal"],
            "auth_password_format": "plain",
            "disable_sasl_mechanisms": ["digest-md5", "x-oauth2"],
            "listen": [
                {"port": self.ports["c2s"], "ip": self.ip, "module": "ejabberd_c2s",
                 "starttls_required": True, "max_stanza_size": 262144},
                {"port": self.ports["s2s"], "ip": self.ip, "module": "ejabberd_s2s_in",
                 "max_stanza_size": 524288},
            ],
            "acl": {"local": {"user_regexp": ""}},
            "access_rules": {"local": {"allow": "local"}, "c2s": {"allow": "all"}},
            "shaper_rules": {"max_user_sessions": 10, "max_user_offline_messages": 1000},
            "modules": modules,
        }
        return "# written by tests/peers/ejabberd.py\n" + yaml(config) + "\n" \
            + self.extra_config + "\n"

    def env(self):
        env = dict(os.environ)
        env.update({
            "HOME": str(self.dir / "home"),
            "CONFIG_DIR": str(self.dir),
            "EJABBERDCTL_CONFIG_PATH": str(self.dir / "ejabberdctl.cfg"),
            "LD_PRELOAD": NSS_WRAPPER,
            "NSS_WRAPPER_HOSTS": str(self.dir / "hosts"),
        })
        return env

    def ctl(self, *args, check=True, timeout=30):
        return subprocess.run([str(self.ctl_path), "--config-dir", str(self.dir), *args],
                              env=self.env(), cwd=self.dir, check=check, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def register(self, jid, password, deadline=None):
        user, domain = jid.split("@", 1)
        while True:
            out = self.ctl("register", user, domain, password, check=False)
            if out.returncode == 0:
                return
            # Mnesia may still be creating the passwd table just after the
            # node reports started; that, and only that, is worth a retry.
            if "no_exists" not in out.stdout or deadline is None or time.monotonic() > deadline:
                raise RuntimeError(f"ejabberdctl register {jid} failed ({out.returncode}): "
                                   f"{out.stdout.strip()}")
            time.sleep(0.1)

    # ------------------------------------------------------------ run
    def start(self, timeout=30.0):
        """Write everything, start ejabberd, wait for its ports, register users."""
        self.write_files()
        out = open(self.dir / "ejabberd.out", "ab")
        proc = subprocess.Popen([str(self.ctl_path), "--config-dir", str(self.dir), "foreground"],
                                env=self.env(), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out, start_new_session=True, cwd=self.dir)
        out.close()
        self.pidfile.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        pending = dict(self.ports)
        try:
            while pending or not self.beam_pidfile.exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"ejabberd exited with {proc.returncode}")
                for name, port in list(pending.items()):
                    try:
                        socket.create_connection((self.ip, port), timeout=0.5).close()
                        del pending[name]
                    except OSError:
                        pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ejabberd did not open {pending} in {timeout}s")
                time.sleep(0.05)
            # Open ports are not a started node: wait for ejabberd to say so
            # before touching its tables.
            left = max(1.0, deadline - time.monotonic())
            started = self.ctl("started", check=False, timeout=left + 5)
            if started.returncode != 0:
                raise RuntimeError(f"ejabberdctl started failed: {started.stdout.strip()}")
            for jid, password in self.users:
                self.register(jid, password, deadline)
        except BaseException as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{self.log_tail()}") from exc
        return self

    def addr(self, name):
        return (self.ip, self.ports[name])

    def ready_line(self):
        pairs = " ".join(f"{name}={self.ip}:{port}" for name, port in self.ports.items())
        return f"ready {pairs} ca={self.ca_cert}"

    def log_path(self):
        return self.dir / "log" / "ejabberd.log"

    def log(self):
        try:
            return self.log_path().read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines=60):
        text = ""
        for path in (self.dir / "ejabberd.out", self.log_path()):
            if path.exists():
                text += "".join(path.read_text(errors="replace").splitlines(True)[-lines:])
        return text

    def stop(self, timeout=10.0):
        stop_dir(self.dir, timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def read_pid(path):
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def stop_dir(directory, timeout=10.0):
    """SIGTERM the beam.smp started in directory (SIGKILL after timeout), and
    wait for the ejabberdctl script and beam's helpers to go too."""
    directory = Path(directory)
    ctl = read_pid(directory / "server.pid")
    beam = read_pid(directory / "ejabberd.pid")
    if ctl is None and beam is None:
        return False
    # ejabberdctl runs erl (which execs beam.smp) as its child; if ejabberd
    # died before writing its pidfile, find beam that way.
    if beam is None or not alive(beam):
        beam = next(iter(children(ctl)), None) if ctl and alive(ctl) else None
    pids = [p for p in (beam, ctl) if p]
    helpers = children(beam) if beam else []  # erl_child_setup, inet_gethost
    if beam:
        try:
            os.kill(beam, signal.SIGTERM)  # init:stop(): a clean shutdown
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids + helpers) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids + helpers:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if ctl:
        try:  # anything left in ejabberdctl's process group
            os.killpg(ctl, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        alive(ctl)  # reap it if it is our child
    for name in ("server.pid", "ejabberd.pid"):
        (directory / name).unlink(missing_ok=True)
    return True


def main(argv=None):
    p = argparse.ArgumentParser(description="Run ejabberd as a test peer.")
    sub = p.add_subparsers(dest="action", required=True)
    start = sub.add_parser("start", help="start ejabberd from DIR and print its addresses")
    start.add_argument("dir")
    start.add_argument("--ip", default="127.0.0.1")
    start.add_argument("--domain", action="append", dest="domains",
                       help="a virtual host (repeatable; default other.test)")
    start.add_argument("--user", action="append", default=[], metavar="JID=PASSWORD")
    start.add_argument("--c2s-port", type=int)
    start.add_argument("--s2s-port", type=int)
    start.add_argument("--ca-cert", help="sign certificates with this CA (with --ca-key)")
    start.add_argument("--ca-key")
    start.add_argument("--trust", action="append", default=[],
                       help="a further CA certificate file ejabberd trusts for s2s")
    start.add_argument("--host", action="append", default=[], metavar="NAME=IP",
                       help="an entry of ejabberd's hosts file, for s2s")
    start.add_argument("--insecure-s2s", action="store_true",
                       help="load mod_s2s_dialback: dialback when EXTERNAL fails")
    start.add_argument("--loglevel", default="info",
                       help="none|emergency|...|info|debug (debug logs every stanza)")
    start.add_argument("--extra-config", default="", help="YAML appended to ejabberd.yml")
    reg = sub.add_parser("register", help="add a user to a running ejabberd")
    reg.add_argument("dir")
    reg.add_argument("jid")
    reg.add_argument("password")
    stop = sub.add_parser("stop", help="stop the ejabberd started from DIR")
    stop.add_argument("dir")
    args = p.parse_args(argv)

    if args.action == "start":
        server = Ejabberd(
            args.dir, domains=args.domains or ["other.test"], ip=args.ip,
            users=[tuple(u.split("=", 1)) for u in args.user],
            c2s_port=args.c2s_port, s2s_port=args.s2s_port,
            ca_cert=args.ca_cert, ca_key=args.ca_key, trust=args.trust,
            hosts=dict(h.split("=", 1) for h in args.host),
            s2s_secure_auth=not args.insecure_s2s, loglevel=args.loglevel,
            extra_config=args.extra_config)
        server.start()
        print(server.ready_line(), flush=True)
    elif args.action == "register":
        Ejabberd(args.dir).register(args.jid, args.password)
    elif args.action == "stop":
        if not stop_dir(args.dir):
            print(f"no running ejabberd in {args.dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
