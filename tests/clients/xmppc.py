#!/usr/bin/env python3
"""xmppc: a real XMPP client (slixmpp) driven over JSON lines.

The integration tests start it as `$SWITCHBOARD_PYTHON tests/clients/xmppc.py
--jid ... --password ...` and talk to it over stdin/stdout, one JSON object per
line. stdout carries only events; logs go to stderr.

Every event has "event". A command may carry "tag"; it then gets exactly one
tagged reply: its answer event (roster, disco_info, version, iq_result, ...),
or {"event": "ok"} when it has no answer, or {"event": "error"} when it could
not be carried out. An IQ answered with type="error" is reported as iq_result
with type "error" and the condition. The protocol is listed in
tests/clients/README.md.
"""

import argparse
import asyncio
import json
import logging
import os
import socket
import ssl
import struct
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.tostring import tostring

NS_CLIENT = "jabber:client"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_ROSTER = "jabber:iq:roster"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_VERSION = "jabber:iq:version"
NS_PING = "urn:xmpp:ping"
NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_DELAY = "urn:xmpp:delay"
NS_CAPS = "http://jabber.org/protocol/caps"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"

log = logging.getLogger("xmppc")


def emit(event, **fields):
    """Write one event line to stdout."""
    line = json.dumps({"event": event, **fields})
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The test went away: nothing left to report to.
        raise SystemExit(0)


def q(ns, name):
    return "{%s}%s" % (ns, name)


def stanza_error(xml):
    """(condition, text, type) of the <error/> child of a stanza, or Nones."""
    err = xml.find(q(NS_CLIENT, "error"))
    if err is None:
        return None, None, None
    condition = text = None
    for child in err:
        if child.tag == q(NS_STANZAS, "text"):
            text = child.text
        elif child.tag.startswith("{%s}" % NS_STANZAS):
            condition = child.tag.split("}", 1)[1]
    return condition, text, err.get("type")


def roster_items(query):
    items = []
    if query is None:
        return items
    for item in query.findall(q(NS_ROSTER, "item")):
        items.append({
            "jid": item.get("jid"),
            "name": item.get("name"),
            "subscription": item.get("subscription", "none"),
            "ask": item.get("ask"),
            "groups": [g.text or "" for g in item.findall(q(NS_ROSTER, "group"))],
        })
    return items


def xml_str(xml):
    """Serialise an element the way it would appear on a jabber:client stream."""
    return tostring(xml, top_level=True)


def child_text(xml, ns, name):
    child = xml.find(q(ns, name))
    return None if child is None else (child.text or "")


class CommandError(Exception):
    pass


class Xmppc(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid if not args.resource else f"{args.jid}/{args.resource}",
                         args.password, sasl_mech=args.mech)
        self.args = args
        self.address = (args.host, args.port)
        self.exiting = False
        self.reconnect_after_drop = False
        self.negotiated = asyncio.Event()

        self.configure_tls()
        self.auto_authorize = None  # subscriptions are answered by the test
        self.auto_subscribe = False
        self.whitespace_keepalive = False

        self.register_plugin("xep_0030")
        self.register_plugin("xep_0092", pconfig={
            "name": args.software_name, "version": args.software_version, "os": args.software_os})
        self.register_plugin("xep_0199")
        self.register_plugin("xep_0203")
        self.register_plugin("xep_0297")
        self.register_plugin("xep_0280")
        if args.caps_node:
            self.register_plugin("xep_0115", pconfig={"caps_node": args.caps_node})
        if args.sm:
            self.register_plugin("xep_0198", pconfig={"window": args.sm_window})

        self.add_filter("in", self.on_stanza_in)
        for name, handler in [
            ("connected", self.on_connected),
            ("connection_failed", self.on_connection_failed),
            ("ssl_invalid_chain", self.on_tls_failed),
            ("auth_success", self.on_auth_success),
            ("failed_auth", self.on_auth_failed),
            ("no_auth", self.on_no_auth),
            ("stream_error", self.on_stream_error),
            ("stream_negotiated", self.on_negotiated),
            ("session_start", self.on_session_start),
            ("session_resumed", self.on_resumed),
            ("sm_enabled", self.on_sm_enabled),
            ("sm_failed", self.on_sm_failed),
            ("stanza_acked", self.on_acked),
            ("disconnected", self.on_disconnected),
        ]:
            self.add_event_handler(name, handler)

    def configure_tls(self):
        mode = self.args.tls
        self.enable_direct_tls = mode == "direct"
        self.enable_starttls = mode == "starttls"
        self.enable_plaintext = mode == "none"
        if mode == "none":
            # The test asked for a clear-text stream: let every mechanism run
            # over it, so that the server is the one that refuses.
            mechs = self.plugin["feature_mechanisms"]
            mechs.unencrypted_plain = True
            mechs.unencrypted_scram = True
        if self.args.ca and not self.args.no_verify:
            self.ca_certs = Path(self.args.ca)
        if self.args.no_verify:
            self.ssl_context.check_hostname = False
            self.ssl_context.verify_mode = ssl.CERT_NONE

    def sm_plugin(self):
        return self.plugin["xep_0198"] if "xep_0198" in self.plugin else None

    def start(self):
        if self.args.source:
            # slixmpp has no source-address option: bind every connection
            # this (single-client) process makes, so tests can come from
            # another loopback address.
            loop = asyncio.get_running_loop()
            create = loop.create_connection
            source = (self.args.source, 0)
            loop.create_connection = lambda *a, **kw: create(*a, local_addr=source, **kw)
        self.connect(*self.address)

    # ------------------------------------------------------------ incoming
    def on_stanza_in(self, stanza):
        """Observe every incoming top-level element (does not consume it)."""
        xml = stanza.xml
        tag = xml.tag
        if tag == q(NS_CLIENT, "message"):
            self.report_message(xml)
        elif tag == q(NS_CLIENT, "presence"):
            self.report_presence(xml)
        elif tag == q(NS_CLIENT, "iq") and xml.get("type") in ("get", "set"):
            query = xml.find(q(NS_ROSTER, "query"))
            if query is not None and xml.get("type") == "set":
                emit("roster_push", items=roster_items(query), ver=query.get("ver"),
                     **{"from": xml.get("from"), "id": xml.get("id")})
            else:
                emit("iq", type=xml.get("type"), id=xml.get("id"),
                     xml=xml_str(xml), **{"from": xml.get("from")})
        elif tag == q(NS_CLIENT, "iq") and xml.get("type") == "error":
            # Also seen by the command that sent the iq, if any; this one
            # reports errors slixmpp handles itself (a refused bind).
            condition, text, _ = stanza_error(xml)
            emit("iq_error", id=xml.get("id"), condition=condition, text=text,
                 xml=xml_str(xml))
        elif tag == q(NS_STREAM, "features"):
            mechs = xml.find(q(NS_SASL, "mechanisms"))
            emit("stream_features",
                 features=[c.tag.split("}", 1)[-1] for c in xml],
                 mechanisms=[] if mechs is None else [m.text for m in mechs],
                 xml=xml_str(xml))
        return stanza

    def report_message(self, xml):
        carbon = None
        wrapper_from = xml.get("from")
        for kind in ("received", "sent"):
            wrap = xml.find(q(NS_CARBONS, kind))
            if wrap is not None and (wrapper_from is None
                                     or wrapper_from.split("/")[0] == self.boundjid.bare):
                inner = wrap.find("%s/%s" % (q(NS_FORWARD, "forwarded"), q(NS_CLIENT, "message")))
                if inner is not None:
                    carbon, xml = kind, inner
                break
        delay = xml.find(q(NS_DELAY, "delay"))
        condition, text, _ = stanza_error(xml) if xml.get("type") == "error" else (None,) * 3
        emit("message",
             to=xml.get("to"), type=xml.get("type", "normal"), id=xml.get("id"),
             body=child_text(xml, NS_CLIENT, "body"),
             subject=child_text(xml, NS_CLIENT, "subject"),
             thread=child_text(xml, NS_CLIENT, "thread"),
             carbon=carbon,
             delay=None if delay is None else delay.get("stamp"),
             condition=condition, text=text,
             xml=xml_str(xml),
             **{"from": xml.get("from")})

    def report_presence(self, xml):
        priority = child_text(xml, NS_CLIENT, "priority")
        caps = xml.find(q(NS_CAPS, "c"))
        condition, text, _ = stanza_error(xml) if xml.get("type") == "error" else (None,) * 3
        emit("presence",
             to=xml.get("to"), type=xml.get("type", "available"),
             show=child_text(xml, NS_CLIENT, "show"),
             status=child_text(xml, NS_CLIENT, "status"),
             priority=int(priority) if priority and priority.lstrip("-").isdigit() else None,
             caps_node=None if caps is None else caps.get("node"),
             caps_ver=None if caps is None else caps.get("ver"),
             condition=condition, text=text,
             xml=xml_str(xml),
             **{"from": xml.get("from")})

    # ------------------------------------------------------------ stream events
    def on_connected(self, _):
        self.negotiated.clear()
        emit("connected")

    def on_connection_failed(self, reason):
        emit("connection_failed", reason=str(reason))
        # No silent retries with back-off: a test asks again with "reconnect".
        self.loop.call_soon(self.cancel_connection_attempt)

    def on_tls_failed(self, exc):
        emit("tls_failed", reason=str(exc))
        if self.transport is not None:
            self.abort()

    def on_auth_success(self, _):
        emit("auth_success", mechanism=self.plugin["feature_mechanisms"].mech.name)

    def on_auth_failed(self, failure):
        emit("auth_failed", condition=failure["condition"], text=failure["text"] or None,
             mechanism=self.plugin["feature_mechanisms"].mech.name)

    def on_no_auth(self, _):
        emit("auth_failed", condition="no-usable-mechanism", text=None, mechanism=None)

    def on_stream_error(self, error):
        emit("stream_error", condition=error["condition"], text=error["text"] or None)

    def on_negotiated(self, _):
        self.negotiated.set()
        if not self.authenticated:
            # No feature the client can use (e.g. TLS required but --tls none).
            emit("negotiation_failed", reason="stream negotiation ended before authentication")

    async def on_session_start(self, _):
        args = self.args
        # The disco identity and features of the bound JID (which the caps
        # hash covers): set once the full JID exists, replacing slixmpp's
        # default client/bot.
        disco = self.plugin["xep_0030"]
        me = self.boundjid.full
        await disco.del_identity(jid=me, category="client", itype="bot")
        await disco.add_identity(category="client", itype=args.client_type,
                                 name=args.software_name, jid=me)
        for var in args.feature:
            await disco.add_feature(var, jid=me)
        if args.roster:
            await self.run_command({"cmd": "roster_get", "tag": "initial-roster"})
        if args.caps_node:
            await self.plugin["xep_0115"].update_caps(broadcast=False)
        if args.presence:
            self.send_presence(ppriority=args.priority)
        if args.carbons:
            await self.run_command({"cmd": "carbons", "tag": "initial-carbons"})
        try:
            await asyncio.wait_for(self.negotiated.wait(), args.timeout)
        except asyncio.TimeoutError:
            log.warning("stream negotiation did not finish after session start")
        sm = self.sm_plugin()
        emit("session_start", jid=self.boundjid.full,
             sm=bool(sm and sm.enabled_in), carbons=args.carbons)

    def on_resumed(self, _):
        emit("sm", state="resumed", jid=self.boundjid.full)

    def on_sm_enabled(self, enabled):
        emit("sm", state="enabled", id=enabled["id"] or None,
             resume=enabled["resume"] in (True, "true", "1"))

    def on_sm_failed(self, failed):
        condition = None
        for child in failed.xml:
            condition = child.tag.split("}", 1)[-1]
        emit("sm", state="failed", condition=condition)

    def on_acked(self, stanza):
        emit("acked", kind=stanza.xml.tag.split("}", 1)[-1], id=stanza.xml.get("id"))

    def on_disconnected(self, reason):
        again = self.reconnect_after_drop and not self.exiting
        emit("disconnected", reason=None if reason is None else str(reason), reconnecting=again)
        if again:
            self.reconnect_after_drop = False
            self.connect(*self.address)

    # ------------------------------------------------------------ commands
    async def run_command(self, cmd):
        tag = cmd.get("tag")
        name = cmd.get("cmd")
        handler = getattr(self, "cmd_" + str(name), None)
        try:
            if handler is None:
                raise CommandError(f"unknown command {name!r}")
            reply = await handler(cmd)
        except (CommandError, KeyError, ValueError, ET.ParseError) as exc:
            if isinstance(exc, KeyError):
                exc = f"missing field {exc}"
            emit("error", message=f"{name}: {exc}", cmd=name, tag=tag)
            return
        except IqTimeout:
            emit("error", message=f"{name}: no answer to the iq", cmd=name, tag=tag)
            return
        except IqError as exc:
            reply = self.iq_reply_event(exc.iq)
        except Exception as exc:  # e.g. a malformed answer from the server
            log.exception("command %s failed", name)
            emit("error", message=f"{name}: {type(exc).__name__}: {exc}", cmd=name, tag=tag)
            return
        if tag is not None:
            event, fields = reply or ("ok", {})
            emit(event, tag=tag, **fields)

    def iq_reply_event(self, iq):
        condition, text, etype = stanza_error(iq.xml)
        return "iq_result", {"type": iq["type"], "condition": condition, "text": text,
                             "error_type": etype, "from": iq.xml.get("from"), "xml": xml_str(iq.xml)}

    async def send_iq(self, cmd, itype, payload):
        iq = self.make_iq(ito=cmd.get("to") or None, itype=itype)
        if payload is not None:
            iq.append(payload if isinstance(payload, ET.Element) else ET.fromstring(payload))
        return await iq.send(timeout=cmd.get("timeout", self.args.timeout))

    async def query_iq(self, cmd, query):
        """Send a get with `query`; return (reply element, its query child)."""
        reply = (await self.send_iq(cmd, "get", query)).xml
        child = reply.find(query.tag)
        if child is None:
            raise CommandError(f"the answer has no {query.tag}: {xml_str(reply)}")
        return reply, child

    async def roster_iq(self, itype, item=None, timeout=None):
        query = ET.Element(q(NS_ROSTER, "query"))
        if item is not None:
            query.append(item)
        return await self.send_iq({"timeout": timeout or self.args.timeout}, itype, query)

    async def cmd_message(self, cmd):
        msg = self.make_message(mto=cmd["to"], mbody=cmd.get("body"),
                                mtype=cmd.get("type", "chat"), msubject=cmd.get("subject"))
        msg["id"] = cmd.get("id") or self.new_id()
        if cmd.get("thread"):
            msg["thread"] = cmd["thread"]
        if cmd.get("lang"):
            msg.xml.set("{http://www.w3.org/XML/1998/namespace}lang", cmd["lang"])
        if cmd.get("payload"):
            msg.append(ET.fromstring(cmd["payload"]))
        msg.send()
        return "ok", {"id": msg["id"]}

    async def cmd_burst(self, cmd):
        """Chat messages `PREFIX-0` ... at `rate` per second (both body and
        id), paced by the loop's clock so that a slow turn does not lower the
        rate; answered once all are sent."""
        loop = asyncio.get_running_loop()
        start, gap = loop.time(), 1.0 / float(cmd["rate"])
        count, prefix = int(cmd["count"]), cmd["prefix"]
        # `pad`: that many more characters after the body's number.
        pad = " " + "x" * int(cmd["pad"]) if cmd.get("pad") else ""
        for i in range(count):
            delay = start + i * gap - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            msg = self.make_message(mto=cmd["to"], mbody=f"{prefix}-{i}{pad}", mtype="chat")
            msg["id"] = f"{prefix}-{i}"
            msg.send()
        return "ok", {"sent": count, "secs": loop.time() - start}

    async def cmd_presence(self, cmd):
        ptype = cmd.get("type")
        self.send_presence(pto=cmd.get("to"), ptype=None if ptype == "available" else ptype,
                           pshow=cmd.get("show"), pstatus=cmd.get("status"),
                           ppriority=cmd.get("priority"))

    async def presence_of_type(self, cmd):
        self.send_presence(pto=cmd["to"], ptype=cmd["cmd"])

    cmd_subscribe = cmd_subscribed = cmd_unsubscribe = cmd_unsubscribed = presence_of_type

    async def cmd_roster_get(self, cmd):
        reply = await self.roster_iq("get", timeout=cmd.get("timeout"))
        query = reply.xml.find(q(NS_ROSTER, "query"))
        return "roster", {"items": roster_items(query),
                          "ver": None if query is None else query.get("ver")}

    async def cmd_roster_set(self, cmd):
        item = ET.Element(q(NS_ROSTER, "item"), jid=cmd["jid"])
        if cmd.get("name") is not None:
            item.set("name", cmd["name"])
        for group in cmd.get("groups") or []:
            ET.SubElement(item, q(NS_ROSTER, "group")).text = group
        await self.roster_iq("set", item, cmd.get("timeout"))

    async def cmd_roster_remove(self, cmd):
        item = ET.Element(q(NS_ROSTER, "item"), jid=cmd["jid"], subscription="remove")
        await self.roster_iq("set", item, cmd.get("timeout"))

    async def cmd_iq(self, cmd):
        reply = await self.send_iq(cmd, cmd.get("type", "get"), cmd.get("xml"))
        return self.iq_reply_event(reply)

    async def cmd_disco_info(self, cmd):
        query = ET.Element(q(NS_DISCO_INFO, "query"))
        if cmd.get("node"):
            query.set("node", cmd["node"])
        reply, query = await self.query_iq(cmd, query)
        return "disco_info", {
            "from": reply.get("from"),
            "node": query.get("node"),
            "identities": [[i.get("category"), i.get("type"), i.get("name")]
                           for i in query.findall(q(NS_DISCO_INFO, "identity"))],
            "features": [f.get("var") for f in query.findall(q(NS_DISCO_INFO, "feature"))],
            "xml": xml_str(reply),
        }

    async def cmd_disco_items(self, cmd):
        query = ET.Element(q(NS_DISCO_ITEMS, "query"))
        if cmd.get("node"):
            query.set("node", cmd["node"])
        reply, query = await self.query_iq(cmd, query)
        return "disco_items", {
            "from": reply.get("from"),
            "items": [[i.get("jid"), i.get("node"), i.get("name")]
                      for i in query.findall(q(NS_DISCO_ITEMS, "item"))],
            "xml": xml_str(reply),
        }

    async def cmd_version(self, cmd):
        reply, query = await self.query_iq(cmd, ET.Element(q(NS_VERSION, "query")))
        return "version", {
            "from": reply.get("from"),
            "name": child_text(query, NS_VERSION, "name"),
            "version": child_text(query, NS_VERSION, "version"),
            "os": child_text(query, NS_VERSION, "os"),
        }

    async def cmd_ping(self, cmd):
        reply = await self.send_iq(cmd, "get", ET.Element(q(NS_PING, "ping")))
        return self.iq_reply_event(reply)

    async def cmd_carbons(self, cmd):
        carbons = self.plugin["xep_0280"]
        timeout = cmd.get("timeout", self.args.timeout)
        await (carbons.enable if cmd.get("enable", True) else carbons.disable)(timeout=timeout)

    async def cmd_raw(self, cmd):
        self.send_raw(cmd["xml"])

    async def cmd_flood(self, cmd):
        """Write the element `xml` over and over for `secs` seconds, as fast
        as the socket takes it (at most 256 KiB waiting in the transport):
        a client sending as fast as it can. Answered with the bytes handed
        to the socket."""
        loop = asyncio.get_running_loop()
        chunk = cmd["xml"].encode() * max(1, 16384 // max(1, len(cmd["xml"])))
        end, written = loop.time() + float(cmd["secs"]), 0
        while loop.time() < end and self.transport is not None:
            if self.transport.get_write_buffer_size() > 262144:
                # asyncio gives no wake-up when its buffer drains; poll
                # at a pace far below the rates measured.
                await asyncio.sleep(0.005)
                continue
            self.transport.write(chunk)
            written += len(chunk)
            await asyncio.sleep(0)
        return "ok", {"written": written}

    async def cmd_pause_reading(self, cmd):
        """Stop reading the socket: a client that no longer takes what the
        server sends (the kernel's buffers fill, then the server's)."""
        if self.transport is None:
            raise CommandError("not connected")
        self.transport.pause_reading()

    async def cmd_resume_reading(self, cmd):
        if self.transport is None:
            raise CommandError("not connected")
        self.transport.resume_reading()

    async def cmd_sm_request_ack(self, cmd):
        sm = self.sm_plugin()
        if sm is None or not sm.enabled_out:
            raise CommandError("stream management is not enabled")
        sm.request_ack()

    async def cmd_drop_tcp(self, cmd):
        """Cut the TCP connection (RST, no </stream:stream>) and reconnect;
        with stream management on, slixmpp then resumes the session."""
        if self.transport is None:
            raise CommandError("not connected")
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.reconnect_after_drop = cmd.get("reconnect", True)
        self.disconnect_reason = "drop_tcp"
        self.transport.abort()

    async def cmd_reconnect(self, cmd):
        """Connect again (resuming the session if SM allows), optionally to a
        new address (a restarted server has new ports)."""
        if self.transport is not None:
            raise CommandError("still connected")
        self.address = (cmd.get("host", self.address[0]), int(cmd.get("port", self.address[1])))
        self.connect(*self.address)

    async def cmd_disconnect(self, cmd):
        self.exiting = True
        if cmd.get("tag") is not None:
            emit("ok", tag=cmd["tag"])
        await self.disconnect(wait=cmd.get("wait", 2.0))
        raise SystemExit(0)


def read_stdin(loop, queue):
    """Forward stdin lines to the event loop from a thread (works for any fd)."""
    for line in sys.stdin.buffer:
        loop.call_soon_threadsafe(queue.put_nowait, line)
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def main(args):
    client = Xmppc(args)
    client.start()
    queue = asyncio.Queue()
    threading.Thread(target=read_stdin, args=(asyncio.get_running_loop(), queue),
                     daemon=True).start()
    while True:
        line = await queue.get()
        if line is None:
            await client.cmd_disconnect({"cmd": "disconnect"})
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            emit("error", message=f"bad command line {line!r}: {exc}", tag=None)
            continue
        if cmd.get("cmd") == "disconnect":
            await client.run_command(cmd)
        else:
            # Commands run concurrently: a slow IQ does not hold the others.
            asyncio.ensure_future(client.run_command(cmd))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jid", required=True, help="bare JID to log in as")
    p.add_argument("--password", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, help="default 5222, or 5223 with --tls direct")
    p.add_argument("--tls", choices=["starttls", "direct", "none"], default="starttls")
    p.add_argument("--ca", help="PEM file of the CA to trust (besides the system's)")
    p.add_argument("--no-verify", action="store_true", help="do not verify the server certificate")
    p.add_argument("--mech", help="the only SASL mechanism to use, e.g. SCRAM-SHA-256")
    p.add_argument("--resource")
    p.add_argument("--source", help="local address to connect from (a loopback address)")
    p.add_argument("--software-name", default="xmppc")
    p.add_argument("--software-version", default="1.0")
    p.add_argument("--software-os", default="")
    p.add_argument("--client-type", default="pc", help="disco identity type (pc, phone, bot...)")
    p.add_argument("--caps-node", help="XEP-0115 node; no caps are sent without it")
    p.add_argument("--feature", action="append", default=[],
                   help="a disco#info feature var to announce (repeatable)")
    p.add_argument("--no-sm", dest="sm", action="store_false", help="no XEP-0198")
    p.add_argument("--sm-window", type=int, default=5, help="request an ack every N stanzas")
    p.add_argument("--carbons", action="store_true", help="enable XEP-0280 after session start")
    p.add_argument("--no-presence", dest="presence", action="store_false",
                   help="send no initial presence")
    p.add_argument("--no-roster", dest="roster", action="store_false",
                   help="do not fetch the roster at session start")
    p.add_argument("--priority", type=int)
    p.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for IQ answers")
    p.add_argument("--log-level", default="INFO", help="of the stderr log (DEBUG shows stanzas)")
    args = p.parse_args(argv)
    if args.port is None:
        args.port = 5223 if args.tls == "direct" else 5222
    return args


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
        log.exception("xmppc crashed")
        emit("error", message="xmppc crashed; see its stderr", tag=None)
        code = 1
    # os._exit: the stdin reader thread may be blocked in read(), which would
    # make a normal interpreter shutdown abort.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
