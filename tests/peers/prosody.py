#!/usr/bin/env python3
"""Run a real Prosody (Debian's package) as a test peer, from a temp dir.

As a library:

    from prosody import Prosody
    p = Prosody("/tmp/x", domains=["customer.test"], users=[("alice@customer.test", "pw")])
    p.start()            # writes certs + config, starts it, waits for the ports
    p.addr("c2s")        # ("127.0.0.1", 41234)
    p.stop()

From the command line (what the Rust tests do):

    prosody.py start DIR --domain customer.test --user alice@customer.test=secret
        prints `ready c2s=IP:PORT direct_tls=IP:PORT s2s=IP:PORT ca=FILE` and
        returns, leaving Prosody running in the background (its PID in
        DIR/server.pid, its log in DIR/prosody.log)
    prosody.py register DIR alice@customer.test secret
    prosody.py stop DIR

Every port defaults to a free one picked on the chosen address; pass fixed
ones (e.g. --s2s-port 5269 on an address of its own) where peers must find it
by the default port. Certificates come from a CA in DIR (made with openssl)
unless --ca-cert/--ca-key name an existing one; --trust adds CAs that Prosody
trusts for s2s. Standard library only; needs `prosody`, `prosodyctl` and
`openssl` on PATH.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_MODULES = [
    "disco", "roster", "saslauth", "tls", "dialback", "ping", "version", "time",
    "carbons", "smacks", "offline", "blocklist", "private", "vcard_legacy", "posix",
]


def free_port(ip):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def lua(value):
    """A Lua literal for a Python str, bool, int or list of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "{ " + ", ".join(lua(v) for v in value) + " }"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def openssl(*args, cwd=None):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_ca(cert, key, name="Test CA"):
    """A self-signed CA certificate and key (EC P-256, PEM)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "3650",
            "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def make_cert(domain, out_dir, ca_cert, ca_key):
    """<out_dir>/<domain>.crt and .key, for domain and *.domain, signed by the CA."""
    out_dir = Path(out_dir)
    key, csr, crt = (out_dir / f"{domain}.{ext}" for ext in ("key", "csr", "crt"))
    ext = out_dir / f"{domain}.ext"
    ext.write_text(
        f"subjectAltName = DNS:{domain}, DNS:*.{domain}\n"
        "extendedKeyUsage = serverAuth, clientAuth\n"
        "basicConstraints = CA:FALSE\n"
        "keyUsage = critical, digitalSignature, keyEncipherment\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={domain}")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
            "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "825",
            "-out", str(crt), "-extfile", str(ext))
    csr.unlink()
    ext.unlink()
    return crt, key


class Prosody:
    def __init__(self, directory, domains=("customer.test",), ip="127.0.0.1", users=(),
                 c2s_port=None, direct_tls_port=None, s2s_port=None, http_port=None,
                 anon_domains=(), ca_cert=None, ca_key=None, trust=(), hosts=None,
                 s2s_secure_auth=True, modules=(), extra_config="", websocket=False,
                 password_hash="SHA-256"):
        self.dir = Path(directory).resolve()
        self.domains = list(domains)
        self.anon_domains = list(anon_domains)
        self.ip = ip
        self.users = list(users)
        self.ports = {
            "c2s": c2s_port or free_port(ip),
            "direct_tls": direct_tls_port or free_port(ip),
            "s2s": s2s_port or free_port(ip),
        }
        if websocket:
            self.ports["http"] = http_port or free_port(ip)
        self.ca_cert = Path(ca_cert).resolve() if ca_cert else self.dir / "ca.pem"
        self.ca_key = Path(ca_key).resolve() if ca_key else self.dir / "ca.key"
        self.trust = [Path(t).resolve() for t in trust]
        self.hosts = dict(hosts or {})  # name -> IP, for Prosody's resolver
        self.s2s_secure_auth = s2s_secure_auth
        # SCRAM-SHA-256 or SCRAM-SHA-1: Prosody 0.12 stores (and offers) one.
        self.password_hash = password_hash
        self.modules = DEFAULT_MODULES + list(modules) + (["websocket"] if websocket else [])
        self.extra_config = extra_config
        self.websocket = websocket
        self.config = self.dir / "prosody.cfg.lua"
        self.pidfile = self.dir / "server.pid"

    # ------------------------------------------------------------ setup
    def write_files(self):
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        pki = self.dir / "pki"
        pki.mkdir(exist_ok=True)
        if not self.ca_cert.exists():
            make_ca(self.ca_cert, self.ca_key, name=f"Prosody test CA {self.dir.name}")
        for domain in self.domains + self.anon_domains:
            if not (pki / f"{domain}.crt").exists():
                make_cert(domain, pki, self.ca_cert, self.ca_key)
        bundle = self.dir / "trusted.pem"
        bundle.write_text("".join(p.read_text() for p in [self.ca_cert, *self.trust]))
        hosts_file = self.dir / "hosts"
        hosts_file.write_text("".join(f"{ip} {name}\n" for name, ip in self.hosts.items()))
        self.config.write_text(self.render_config(bundle, hosts_file))

    def render_config(self, bundle, hosts_file):
        d = self.dir
        lines = [
            "-- written by tests/peers/prosody.py",
            "run_as_root = true",
            f"data_path = {lua(str(d / 'data'))}",
            f"pidfile = {lua(str(d / 'prosody.pid'))}",
            "daemonize = false",
            f"log = {{ {{ levels = {{ min = \"debug\" }}, to = \"file\", "
            f"filename = {lua(str(d / 'prosody.log'))} }} }}",
            f"interfaces = {lua([self.ip])}",
            "local_interfaces = interfaces",
            "use_ipv6 = false",
            f"c2s_ports = {lua([self.ports['c2s']])}",
            f"c2s_direct_tls_ports = {lua([self.ports['direct_tls']])}",
            f"s2s_ports = {lua([self.ports['s2s']])}",
            f"http_interfaces = {lua([self.ip])}",
            f"http_ports = {lua([self.ports['http']] if self.websocket else [])}",
            "https_ports = {}",
            "consider_websocket_secure = true",
            f"certificates = {lua(str(d / 'pki'))}",
            f"ssl = {{ cafile = {lua(str(bundle))} }}",
            "c2s_require_encryption = true",
            "s2s_require_encryption = true",
            f"s2s_secure_auth = {lua(self.s2s_secure_auth)}",
            "allow_registration = false",
            "authentication = \"internal_hashed\"",
            f"password_hash = {lua(self.password_hash)}",
            "storage = \"internal\"",
            "smacks_hibernation_time = 60",
            f"unbound = {{ hoststxt = {lua(str(hosts_file))} }}",
            f"modules_enabled = {lua(self.modules)}",
            self.extra_config,
        ]
        if self.websocket and self.domains:
            lines.append(f"http_default_host = {lua(self.domains[0])}")
        for domain in self.domains:
            lines.append(f"VirtualHost {lua(domain)}")
        for domain in self.anon_domains:
            lines.append(f"VirtualHost {lua(domain)}")
            lines.append("    authentication = \"anonymous\"")
        return "\n".join(lines) + "\n"

    def register(self, jid, password):
        user, domain = jid.split("@", 1)
        subprocess.run(["prosodyctl", "--config", str(self.config), "register",
                        user, domain, password],
                       check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    # ------------------------------------------------------------ run
    def start(self, timeout=15.0):
        """Write everything, register users, start Prosody and wait for its ports."""
        self.write_files()
        for jid, password in self.users:
            self.register(jid, password)
        out = open(self.dir / "prosody.out", "ab")
        proc = subprocess.Popen(["prosody", "--config", str(self.config), "-F"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, cwd=self.dir)
        out.close()
        self.pidfile.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        pending = dict(self.ports)
        while pending:
            if proc.poll() is not None:
                raise RuntimeError(f"prosody exited with {proc.returncode}:\n{self.log_tail()}")
            for name, port in list(pending.items()):
                try:
                    socket.create_connection((self.ip, port), timeout=0.5).close()
                    del pending[name]
                except OSError:
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"prosody did not open {pending} in {timeout}s:\n"
                                   f"{self.log_tail()}")
            if pending:
                time.sleep(0.05)
        return self

    def addr(self, name):
        return (self.ip, self.ports[name])

    def ready_line(self):
        pairs = " ".join(f"{name}={self.ip}:{port}" for name, port in self.ports.items())
        return f"ready {pairs} ca={self.ca_cert}"

    def log_tail(self, lines=60):
        text = ""
        for name in ("prosody.out", "prosody.log"):
            path = self.dir / name
            if path.exists():
                text += "".join(path.read_text(errors="replace").splitlines(True)[-lines:])
        return text

    def stop(self, timeout=5.0):
        stop_dir(self.dir, timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def stop_dir(directory, timeout=5.0):
    """SIGTERM the Prosody started in directory, SIGKILL it after timeout."""
    pidfile = Path(directory) / "server.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pidfile.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            break
        time.sleep(0.05)
    else:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pidfile.unlink(missing_ok=True)
    return True


def alive(pid):
    try:
        # Reap it if it is our child; otherwise just probe it.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie that is not ours still answers signal 0: look at its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def main(argv=None):
    p = argparse.ArgumentParser(description="Run Prosody as a test peer.")
    sub = p.add_subparsers(dest="action", required=True)
    start = sub.add_parser("start", help="start Prosody from DIR and print its addresses")
    start.add_argument("dir")
    start.add_argument("--ip", default="127.0.0.1")
    start.add_argument("--domain", action="append", dest="domains",
                       help="a VirtualHost (repeatable; default customer.test)")
    start.add_argument("--anon-domain", action="append", default=[],
                       help="a VirtualHost with anonymous login")
    start.add_argument("--user", action="append", default=[], metavar="JID=PASSWORD")
    for name in ("c2s", "direct-tls", "s2s", "http"):
        start.add_argument(f"--{name}-port", type=int)
    start.add_argument("--ca-cert", help="sign certificates with this CA (with --ca-key)")
    start.add_argument("--ca-key")
    start.add_argument("--trust", action="append", default=[],
                       help="a further CA certificate file Prosody trusts")
    start.add_argument("--host", action="append", default=[], metavar="NAME=IP",
                       help="an entry of Prosody's hosts file, for s2s")
    start.add_argument("--password-hash", default="SHA-256", choices=["SHA-256", "SHA-1"],
                       help="what Prosody stores, hence its one SCRAM mechanism")
    start.add_argument("--insecure-s2s", action="store_true",
                       help="s2s_secure_auth = false (dialback without valid certs)")
    start.add_argument("--module", action="append", default=[], help="an extra module")
    start.add_argument("--websocket", action="store_true", help="serve WebSocket on http")
    start.add_argument("--extra-config", default="", help="Lua appended to the global section")
    reg = sub.add_parser("register", help="add a user to a configured Prosody")
    reg.add_argument("dir")
    reg.add_argument("jid")
    reg.add_argument("password")
    stop = sub.add_parser("stop", help="stop the Prosody started from DIR")
    stop.add_argument("dir")
    args = p.parse_args(argv)

    if args.action == "start":
        server = Prosody(
            args.dir, domains=args.domains or ["customer.test"], ip=args.ip,
            users=[tuple(u.split("=", 1)) for u in args.user],
            c2s_port=args.c2s_port, direct_tls_port=args.direct_tls_port,
            s2s_port=args.s2s_port, http_port=args.http_port,
            anon_domains=args.anon_domain, ca_cert=args.ca_cert, ca_key=args.ca_key,
            trust=args.trust, hosts=dict(h.split("=", 1) for h in args.host),
            s2s_secure_auth=not args.insecure_s2s, modules=args.module,
            extra_config=args.extra_config, websocket=args.websocket,
            password_hash=args.password_hash)
        server.start()
        print(server.ready_line(), flush=True)
    elif args.action == "register":
        Prosody(args.dir).register(args.jid, args.password)
    elif args.action == "stop":
        if not stop_dir(args.dir):
            print(f"no running prosody in {args.dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
