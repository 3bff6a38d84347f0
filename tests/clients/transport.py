#!/usr/bin/env python3
"""transport: an XEP-0114 component (slixmpp) playing a transport for another
IM network, e.g. an SMS gateway, driven over JSON lines like xmppc.py.

It connects to Switchboard's component port as --domain with --secret and
answers disco#info for its domain with the identity gateway/<--network>, the
--feature list and, with --max-length, an XEP-0128 form field
`max-message-length`. Its users are JIDs on that domain: the test makes them
write (`message` with "from": "+15551234") and sees what reaches them
(`message` events). --silent-disco leaves disco and version queries
unanswered, as a slow or broken transport would.

Events: session_start, message, presence, iq (queries it did not answer),
disconnected, error. Commands: message {from, to, body, [xml]}, presence
{from, to, [type]}, disconnect. A command with "tag" gets one tagged reply.
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import threading
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from slixmpp.xmlstream.tostring import tostring

NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_VERSION = "jabber:iq:version"
NS_DATA = "jabber:x:data"
NS_COMPONENT = "jabber:component:accept"

log = logging.getLogger("transport")


def emit(event, **fields):
    try:
        sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise SystemExit(0)


def local(tag):
    return tag.rsplit("}", 1)[-1]


def child_text(xml, name):
    """Text of the first child called `name`, whatever its namespace: the
    server may send `jabber:client` children inside component stanzas."""
    for c in xml:
        if local(c.tag) == name:
            return c.text or ""
    return None


class Transport(slixmpp.ComponentXMPP):
    def __init__(self, args):
        super().__init__(args.domain, args.secret, args.host, args.port)
        self.args = args
        self.register_handler(Callback(
            "iq", MatchXPath(f"{{{NS_COMPONENT}}}iq"), self.on_iq))
        self.register_handler(Callback(
            "message", MatchXPath(f"{{{NS_COMPONENT}}}message"), self.on_message))
        self.register_handler(Callback(
            "presence", MatchXPath(f"{{{NS_COMPONENT}}}presence"), self.on_presence))
        self.add_event_handler("session_start", lambda _: emit("session_start", jid=args.domain))
        self.add_event_handler("disconnected", self.on_disconnected)
        self.add_event_handler("stream_error", lambda e: emit(
            "stream_error", condition=e["condition"], text=e["text"]))

    def on_disconnected(self, reason):
        emit("disconnected", reason=str(reason))

    def on_message(self, msg):
        xml = msg.xml
        emit("message", **{
            "from": xml.get("from"), "to": xml.get("to"), "id": xml.get("id"),
            "type": xml.get("type"), "body": child_text(xml, "body"),
            "xml": tostring(xml)})

    def on_presence(self, pres):
        xml = pres.xml
        emit("presence", **{"from": xml.get("from"), "to": xml.get("to"),
                            "type": xml.get("type") or "available", "xml": tostring(xml)})

    def on_iq(self, iq):
        xml = iq.xml
        if xml.get("type") not in ("get", "set"):
            return
        query = xml[0] if len(xml) else None
        ns = query.tag.split("}")[0][1:] if query is not None and "}" in query.tag else ""
        if self.args.silent_disco or query is None or ns not in (NS_DISCO_INFO, NS_VERSION):
            emit("iq", **{"from": xml.get("from"), "to": xml.get("to"), "xml": tostring(xml)})
            if self.args.silent_disco and ns in (NS_DISCO_INFO, NS_VERSION):
                return
            self.answer(xml, "error", ET.fromstring(
                "<error type='cancel'><service-unavailable "
                "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"))
            return
        to = xml.get("to") or ""
        if ns == NS_VERSION:
            payload = ET.fromstring(
                f"<query xmlns='{NS_VERSION}'><name>{self.args.network}-transport</name>"
                "<version>1.0</version></query>")
        elif "@" in to:
            # A user of the network: what the network itself can carry.
            payload = self.info(category="client", type_=self.args.network, with_form=False)
        else:
            payload = self.info(category="gateway", type_=self.args.network, with_form=True)
        self.answer(xml, "result", payload)

    def info(self, category, type_, with_form):
        q = ET.Element(f"{{{NS_DISCO_INFO}}}query")
        ET.SubElement(q, f"{{{NS_DISCO_INFO}}}identity",
                      {"category": category, "type": type_, "name": self.args.name})
        for var in [NS_DISCO_INFO] + [f for f in self.args.feature if f]:
            ET.SubElement(q, f"{{{NS_DISCO_INFO}}}feature", {"var": var})
        if with_form and self.args.max_length:
            x = ET.SubElement(q, f"{{{NS_DATA}}}x", {"type": "result"})
            f = ET.SubElement(x, f"{{{NS_DATA}}}field", {"var": "FORM_TYPE", "type": "hidden"})
            ET.SubElement(f, f"{{{NS_DATA}}}value").text = "urn:example:transport"
            f = ET.SubElement(x, f"{{{NS_DATA}}}field", {"var": "max-message-length"})
            ET.SubElement(f, f"{{{NS_DATA}}}value").text = str(self.args.max_length)
        return q

    def answer(self, request, itype, payload):
        reply = ET.Element(f"{{{NS_COMPONENT}}}iq", {
            "type": itype, "id": request.get("id", ""),
            "from": request.get("to", ""), "to": request.get("from", "")})
        reply.append(payload)
        self.send_raw(tostring(reply, top_level=True))

    def user(self, name):
        return name if "@" in name else f"{name}@{self.args.domain}"

    async def run_command(self, cmd):
        tag = cmd.get("tag")
        name = cmd.get("cmd")
        try:
            if name == "message":
                m = self.make_message(mto=cmd["to"], mbody=cmd.get("body"),
                                      mtype=cmd.get("type", "chat"), mfrom=self.user(cmd["from"]))
                if cmd.get("payload"):
                    m.append(ET.fromstring(cmd["payload"]))
                m.send()
            elif name == "presence":
                self.send_presence(pto=cmd["to"], pfrom=self.user(cmd["from"]),
                                   ptype=cmd.get("type"))
            elif name == "disconnect":
                self.disconnect()
            else:
                raise ValueError(f"unknown command {name!r}")
        except (KeyError, ValueError, ET.ParseError) as exc:
            emit("error", message=f"{name}: {exc}", tag=tag)
            return
        if tag is not None:
            emit("ok", tag=tag)


def read_stdin(loop, queue):
    for line in sys.stdin.buffer:
        loop.call_soon_threadsafe(queue.put_nowait, line)
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def main(args):
    t = Transport(args)
    t.connect()
    queue = asyncio.Queue()
    threading.Thread(target=read_stdin, args=(asyncio.get_running_loop(), queue),
                     daemon=True).start()
    while True:
        line = await queue.get()
        if line is None:
            return
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
        except ValueError as exc:
            emit("error", message=f"bad command line {line!r}: {exc}", tag=None)
            continue
        await t.run_command(cmd)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--network", default="sms", help="disco identity type: gateway/<network>")
    p.add_argument("--name", default="SMS gateway", help="disco identity name")
    p.add_argument("--max-length", type=int, help="announce max-message-length (XEP-0128)")
    p.add_argument("--feature", action="append", default=[], help="extra disco feature var")
    p.add_argument("--silent-disco", action="store_true",
                   help="never answer disco#info or version queries")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    code = 0
    try:
        asyncio.run(main(args))
    except SystemExit as exc:
        code = exc.code or 0
    except KeyboardInterrupt:
        pass
    except Exception:
        log.exception("transport crashed")
        emit("error", message="transport crashed; see its stderr", tag=None)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
