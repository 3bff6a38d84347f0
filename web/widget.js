// Switchboard's web chat: a visitor's conversation with the contact center.
//
// XMPP comes from Strophe.js (web/vendor, MIT), a maintained library that
// speaks both web framings (RFC 7395 WebSocket and XEP-0206 BOSH) and SASL,
// and is small enough (68 KB) to serve with the page; converse.js is a whole
// messenger (roster, rooms, OMEMO) that would have to be hidden piece by
// piece. What is specific to a contact center is here: the entry's
// presence, the place in the queue, the agent's name, pushed pages, and a
// visitor token that makes a reload or a return the same customer.
(function () {
  'use strict';
  const cfg = JSON.parse(document.getElementById('sb-config').textContent);
  const NS = {
    RECEIPTS: 'urn:xmpp:receipts',
    STATES: 'http://jabber.org/protocol/chatstates',
    NICK: 'http://jabber.org/protocol/nick',
    OOB: 'jabber:x:oob',
    PUSH: 'urn:switchboard:push:0',
    QUEUE: 'urn:switchboard:queue:0',
    UPLOAD: 'urn:xmpp:http:upload:0',
    DELAY: 'urn:xmpp:delay',
  };
  const $ = (id) => document.getElementById(id);
  const ui = {
    title: $('sb-title'), status: $('sb-status'), agent: $('sb-agent'), queue: $('sb-queue'),
    log: $('sb-log'), typing: $('sb-typing'), form: $('sb-form'), input: $('sb-input'),
    send: $('sb-send'), file: $('sb-file'), page: $('sb-page'), pageTitle: $('sb-page-title'),
    pageLink: $('sb-page-link'), pageFrame: $('sb-page-frame'), pageClose: $('sb-page-close'),
  };
  const entry = cfg.entry;
  const bare = (jid) => (jid || '').split('/')[0].toLowerCase();
  const child = (el, ns, name) => el.getElementsByTagNameNS(ns, name)[0] || null;
  const text = (el) => (el ? el.textContent : '');

  // ------------------------------------------------------------ storage
  // The visitor's token (their JID for as long as it lasts) and what the
  // conversation showed, so that a reload shows it again.
  const key = 'switchboard:' + cfg.domain + ':' + entry;
  const saved = (() => {
    try { return JSON.parse(localStorage.getItem(key)) || {}; } catch (e) { return {}; }
  })();
  saved.log = saved.log || [];
  const save = () => {
    saved.log = saved.log.slice(-200);
    try { localStorage.setItem(key, JSON.stringify(saved)); } catch (e) { /* private mode */ }
  };

  async function visitor() {
    const now = Date.now() / 1000;
    if (saved.visitor && saved.visitor.expires > now + 60) return saved.visitor;
    const r = await fetch(cfg.visitor, { method: 'POST' });
    if (!r.ok) throw new Error('visitor token: HTTP ' + r.status);
    saved.visitor = await r.json();
    saved.log = [];
    save();
    return saved.visitor;
  }

  // ------------------------------------------------------------ the log
  const shown = new Map();
  function render(m) {
    let li = shown.get(m.id);
    if (!li) {
      li = document.createElement('li');
      shown.set(m.id, li);
      ui.log.appendChild(li);
    }
    li.className = 'sb-msg sb-' + m.dir + (m.failed ? ' sb-failed' : '');
    li.dataset.id = m.id;
    li.replaceChildren();
    if (m.dir === 'in' && m.name) {
      const who = document.createElement('span');
      who.className = 'sb-who';
      who.textContent = m.name;
      li.appendChild(who);
    }
    const body = document.createElement('span');
    body.className = 'sb-text';
    linkify(body, m.text);
    li.appendChild(body);
    if (m.dir === 'out') {
      const meta = document.createElement('span');
      meta.className = 'sb-meta';
      meta.textContent = m.failed ? 'Not delivered: ' + m.failed : m.received ? '✓ Delivered' : 'Sent';
      li.appendChild(meta);
    }
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  // Addresses become links; nothing a message says is ever HTML.
  function linkify(into, s) {
    const re = /\bhttps?:\/\/[^\s<>"]+/g;
    let at = 0;
    for (const m of s.matchAll(re)) {
      into.append(s.slice(at, m.index));
      const a = document.createElement('a');
      a.href = m[0];
      a.textContent = m[0];
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      into.appendChild(a);
      at = m.index + m[0].length;
    }
    into.append(s.slice(at));
  }

  function record(m) {
    const known = saved.log.find((x) => x.id === m.id && x.dir === m.dir);
    if (known) Object.assign(known, m); else saved.log.push(m);
    save();
    render(known || m);
  }

  function mark(id, change) {
    const m = saved.log.find((x) => x.id === id && x.dir === 'out');
    if (!m) return;
    Object.assign(m, change);
    save();
    render(m);
  }

  // ------------------------------------------------------------ status
  function setStatus(state, line) {
    ui.status.dataset.state = state;
    ui.status.textContent = line;
  }

  function setAgent(name) {
    if (!name || saved.agent === name) return;
    saved.agent = name;
    save();
    showAgent();
  }

  function showAgent() {
    ui.agent.hidden = !saved.agent;
    ui.agent.textContent = saved.agent ? 'You are chatting with ' + saved.agent : '';
    if (saved.agent) ui.queue.hidden = true;
  }

  function showQueue(position, minutes) {
    ui.queue.hidden = false;
    ui.queue.textContent = 'You are number ' + position + ' in the queue · about ' + minutes + ' min';
    ui.queue.dataset.position = position;
  }

  function showPage(url, title) {
    ui.page.hidden = false;
    ui.pageTitle.textContent = title || url;
    ui.pageLink.href = url;
    ui.pageFrame.src = url;
    saved.page = { url, title };
    save();
  }
  ui.pageClose.addEventListener('click', () => {
    ui.page.hidden = true;
    ui.pageFrame.removeAttribute('src');
    saved.page = null;
    save();
  });

  // ------------------------------------------------------------ XMPP
  let conn = null;
  let online = false;
  let retry = 0;

  function serviceUrls() {
    const ws = new URL(cfg.websocket, location.href);
    ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
    const bosh = new URL(cfg.bosh, location.href).href;
    return typeof WebSocket === 'function' && !cfg.force_bosh ? [ws.href, bosh] : [bosh];
  }

  async function connect(urls) {
    let v;
    try {
      v = await visitor();
    } catch (e) {
      setStatus('offline', 'Chat unavailable — retrying…');
      return later();
    }
    const url = urls[0];
    const c = new Strophe.Connection(url);
    conn = c;
    let wasUp = false;
    c.connect(v.jid, v.token, (status, condition) => {
      if (c !== conn) return;
      const S = Strophe.Status;
      if (status === S.CONNECTED) {
        wasUp = true;
        retry = 0;
        up(c);
      } else if (status === S.AUTHFAIL) {
        // The token is no longer good (expired, or the key changed): a new one.
        saved.visitor = null;
        save();
      } else if (status === S.CONNFAIL || status === S.DISCONNECTED) {
        online = false;
        ui.send.disabled = true;
        if (!wasUp && urls.length > 1 && status === S.CONNFAIL) return connect(urls.slice(1));
        if (status === S.DISCONNECTED) {
          setStatus('offline', 'Reconnecting…');
          later();
        }
      }
    });
  }

  function later() {
    retry = Math.min(retry + 1, 6);
    setTimeout(() => connect(serviceUrls()), 500 * 2 ** retry);
  }

  function up(c) {
    online = true;
    ui.send.disabled = false;
    c.addHandler(onMessage, null, 'message');
    c.addHandler(onPresence, null, 'presence');
    c.addHandler(onIq, null, 'iq', 'get');
    c.addHandler(onIq, null, 'iq', 'set');
    c.send($pres());
    // Subscribing shows the entry's status (open, busy with the wait, closed).
    c.send($pres({ to: entry, type: 'subscribe' }));
    setStatus('connecting', 'Connected');
  }

  // The gateway asks what the client is (XEP-0030, XEP-0092) to adapt
  // what it relays: say what this page shows.
  const FEATURES = ['http://jabber.org/protocol/disco#info', NS.RECEIPTS, NS.STATES, NS.NICK,
    NS.OOB, NS.UPLOAD, 'urn:xmpp:delay', 'jabber:iq:version'];
  function onIq(iq) {
    const id = iq.getAttribute('id');
    const to = iq.getAttribute('from');
    const q = iq.firstElementChild;
    const reply = $iq({ type: 'result', id, to });
    if (iq.getAttribute('type') === 'get' && q && q.namespaceURI === 'http://jabber.org/protocol/disco#info' && !q.getAttribute('node')) {
      reply.c('query', { xmlns: q.namespaceURI })
        .c('identity', { category: 'client', type: 'web', name: 'Switchboard web chat' }).up();
      for (const f of FEATURES) reply.c('feature', { var: f }).up();
    } else if (iq.getAttribute('type') === 'get' && q && q.namespaceURI === 'jabber:iq:version') {
      reply.c('query', { xmlns: q.namespaceURI }).c('name').t('Switchboard web chat').up()
        .c('version').t('1').up();
    } else {
      conn.send($iq({ type: 'error', id, to }).c('error', { type: 'cancel' })
        .c('service-unavailable', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }));
      return true;
    }
    conn.send(reply);
    return true;
  }

  function onPresence(p) {
    if (bare(p.getAttribute('from')) !== entry) return true;
    const type = p.getAttribute('type');
    if (type === 'subscribe') {
      conn.send($pres({ to: entry, type: 'subscribed' }));
    } else if (!type || type === 'unavailable') {
      const show = text(p.getElementsByTagName('show')[0]);
      const status = text(p.getElementsByTagName('status')[0]);
      if (type === 'unavailable') setStatus('closed', status || 'Closed');
      else if (show === 'away' || show === 'xa' || show === 'dnd') setStatus('busy', status || 'Busy');
      else setStatus('open', status || 'Open — an agent is available');
    }
    return true;
  }

  function onMessage(m) {
    if (bare(m.getAttribute('from')) !== entry) return true;
    const id = m.getAttribute('id') || 'in-' + Date.now();
    if (m.getAttribute('type') === 'error') {
      const cond = m.getElementsByTagName('error')[0];
      const why = cond && cond.firstElementChild ? cond.firstElementChild.tagName : 'error';
      mark(id, { failed: why });
      return true;
    }
    const received = child(m, NS.RECEIPTS, 'received');
    if (received) mark(received.getAttribute('id'), { received: true });
    const nick = text(child(m, NS.NICK, 'nick'));
    if (nick) setAgent(nick);
    if (child(m, NS.STATES, 'composing')) {
      ui.typing.hidden = false;
      ui.typing.textContent = (nick || saved.agent || 'The agent') + ' is typing…';
    } else if (child(m, NS.STATES, 'paused') || child(m, NS.STATES, 'active') ||
               child(m, NS.STATES, 'gone') || child(m, NS.STATES, 'inactive')) {
      ui.typing.hidden = true;
    }
    const body = m.getElementsByTagName('body')[0];
    if (!body) return true;
    ui.typing.hidden = true;
    if (child(m, NS.RECEIPTS, 'request')) {
      conn.send($msg({ to: m.getAttribute('from'), id: conn.getUniqueId('r') })
        .c('received', { xmlns: NS.RECEIPTS, id }));
    }
    const agent = child(m, NS.QUEUE, 'agent');
    if (agent) setAgent(agent.getAttribute('name'));
    const queue = child(m, NS.QUEUE, 'queue');
    if (queue) showQueue(queue.getAttribute('position'), queue.getAttribute('minutes'));
    const oob = child(m, NS.OOB, 'x');
    if (oob && child(m, NS.PUSH, 'push')) {
      const url = text(child(oob, NS.OOB, 'url'));
      if (/^https?:\/\//.test(url)) showPage(url, text(child(oob, NS.OOB, 'desc')));
    }
    record({ id, dir: nick ? 'in' : 'system', name: nick, text: body.textContent });
    return true;
  }

  // ------------------------------------------------------------ writing
  let composing = false;
  let pauseTimer = null;
  function chatState(state) {
    if (!online) return;
    conn.send($msg({ to: entry, type: 'chat' }).c(state, { xmlns: NS.STATES }));
  }
  ui.input.addEventListener('input', () => {
    if (!composing && ui.input.value.trim()) {
      composing = true;
      chatState('composing');
    }
    clearTimeout(pauseTimer);
    pauseTimer = setTimeout(() => {
      if (composing) { composing = false; chatState('paused'); }
    }, 5000);
  });
  ui.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      ui.form.requestSubmit();
    }
  });
  ui.form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = ui.input.value.trim();
    if (!body || !online) return;
    sendBody(body);
    ui.input.value = '';
  });

  function sendBody(body, oobUrl) {
    const id = conn.getUniqueId('m');
    const msg = $msg({ to: entry, type: 'chat', id }).c('body').t(body).up();
    if (oobUrl) msg.c('x', { xmlns: NS.OOB }).c('url').t(oobUrl).up().up();
    msg.c('request', { xmlns: NS.RECEIPTS }).up().c('active', { xmlns: NS.STATES });
    clearTimeout(pauseTimer);
    composing = false;
    conn.send(msg);
    record({ id, dir: 'out', text: body });
  }

  // XEP-0363: a slot from the support domain, the file PUT there, and its
  // address sent in the chat.
  ui.file.addEventListener('change', () => {
    const f = ui.file.files[0];
    ui.file.value = '';
    if (!f || !online) return;
    const note = { id: 'up-' + Date.now(), dir: 'system', text: 'Sending ' + f.name + '…' };
    record(note);
    const type = f.type || 'application/octet-stream';
    const iq = $iq({ to: cfg.support, type: 'get' }).c('request', {
      xmlns: NS.UPLOAD, filename: f.name, size: f.size, 'content-type': type,
    });
    conn.sendIQ(iq, async (res) => {
      const slot = child(res, NS.UPLOAD, 'slot');
      const put = slot && child(slot, NS.UPLOAD, 'put');
      const get = slot && child(slot, NS.UPLOAD, 'get');
      if (!put || !get) return record({ ...note, text: f.name + ' could not be sent.' });
      const headers = { 'Content-Type': type };
      for (const h of put.getElementsByTagNameNS(NS.UPLOAD, 'header')) {
        const name = h.getAttribute('name');
        if (/^(authorization|cookie|expires)$/i.test(name)) headers[name] = h.textContent;
      }
      try {
        const r = await fetch(put.getAttribute('url'), { method: 'PUT', body: f, headers });
        if (!r.ok) throw new Error('HTTP ' + r.status);
      } catch (e) {
        return record({ ...note, text: f.name + ' could not be sent (' + e.message + ').' });
      }
      const url = get.getAttribute('url');
      record({ ...note, text: 'Sent ' + f.name });
      sendBody(url, url);
    }, (err) => {
      const e = err && err.getElementsByTagName('text')[0];
      record({ ...note, text: f.name + ' could not be sent' + (e ? ': ' + e.textContent : '.') });
    }, 20000);
  });

  // ------------------------------------------------------------ start
  ui.title.textContent = cfg.title || 'Chat with us';
  document.title = ui.title.textContent;
  ui.send.disabled = true;
  for (const m of saved.log) render(m);
  showAgent();
  if (saved.page) showPage(saved.page.url, saved.page.title);
  connect(serviceUrls());
  // For tests and for the page that embeds the widget.
  window.switchboardChat = { get jid() { return conn && conn.jid; }, get online() { return online; } };
})();
