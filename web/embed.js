// Puts Switchboard's web chat on any page with one tag:
//   <script src="https://chat.example.com/web/embed.js" data-entry="help@support.example" async></script>
// A button in the corner opens the chat (served by Switchboard, in an
// iframe, so the site's styles and scripts and the chat's stay apart).
(function () {
  'use strict';
  const me = document.currentScript;
  if (!me) return;
  const base = new URL(me.src, location.href);
  const chat = new URL('/chat', base);
  if (me.dataset.entry) chat.searchParams.set('entry', me.dataset.entry);
  const label = me.dataset.label || 'Chat with us';

  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = label;
  button.setAttribute('aria-expanded', 'false');
  Object.assign(button.style, {
    position: 'fixed', right: '20px', bottom: '20px', zIndex: 2147483647,
    padding: '12px 18px', border: '0', borderRadius: '24px', background: '#1d4ed8',
    color: '#fff', font: '600 15px system-ui, sans-serif', cursor: 'pointer',
    boxShadow: '0 4px 14px rgba(0,0,0,.25)',
  });
  let frame = null;
  const small = () => window.matchMedia('(max-width: 700px)').matches;
  // On a phone the chat takes the screen, and the button, moved to the top
  // corner, closes it.
  function place() {
    const open = frame && !frame.hidden;
    Object.assign(button.style, open && small()
      ? { top: '8px', bottom: 'auto', right: '8px', padding: '6px 12px' }
      : { top: 'auto', bottom: '20px', right: '20px', padding: '12px 18px' });
    button.textContent = open ? 'Close chat' : label;
    if (!frame) return;
    Object.assign(frame.style, small()
      ? { right: '0', bottom: '0', width: '100vw', height: '100vh', borderRadius: '0' }
      : { right: '20px', bottom: '80px', width: '380px', height: '600px', borderRadius: '12px' });
  }
  button.addEventListener('click', () => {
    if (!frame) {
      frame = document.createElement('iframe');
      frame.src = chat.href;
      frame.title = label;
      frame.allow = 'clipboard-write';
      Object.assign(frame.style, {
        position: 'fixed', zIndex: 2147483646, border: '0', background: '#fff',
        boxShadow: '0 8px 30px rgba(0,0,0,.3)',
      });
      place();
      document.body.appendChild(frame);
      window.addEventListener('resize', place);
    } else {
      frame.hidden = !frame.hidden;
    }
    button.setAttribute('aria-expanded', String(!frame.hidden));
    place();
  });
  (document.body ? Promise.resolve() : new Promise((ok) => addEventListener('DOMContentLoaded', ok)))
    .then(() => document.body.appendChild(button));
})();
