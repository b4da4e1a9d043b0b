// Local mail catcher for development and the end-to-end tests: an SMTP server on 127.0.0.1 that
// keeps every message it receives (in memory, the newest 500) and shows them in the browser, with
// a JSON API for the tests. Nothing is ever relayed: no mail leaves the machine.
// Usage: MAIL_SMTP_PORT=2525 MAIL_WEB_PORT=8025 node tools/mail/server.mjs (scripts/mail.sh starts it).
import { createServer } from 'node:http';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import libmime from 'libmime';

const port = (name) => {
  const value = Number(process.env[name]);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    console.error(`${name} must be set to a port number`);
    process.exit(1);
  }
  return value;
};
const SMTP_PORT = port('MAIL_SMTP_PORT');
const WEB_PORT = port('MAIL_WEB_PORT');
const ORIGIN = `http://127.0.0.1:${WEB_PORT}`;
const MAX_SIZE = 10 * 1024 * 1024; // bytes per message
const MAX_MESSAGES = 500; // the oldest go first

// --- The messages, oldest first. Ids count up from 1 for as long as the process runs.
const messages = [];
let lastId = 0;

// Every header, as { lowercased name: value }: unfolded, encoded words decoded; a header that
// occurs more than once (Received, …) has its values joined by newlines.
function headersOf(headerLines = []) {
  const headers = {};
  for (const { key, line } of headerLines) {
    const value = libmime.decodeWords(libmime.decodeHeader(line).value ?? '').trim();
    headers[key] = key in headers ? `${headers[key]}\n${value}` : value;
  }
  return headers;
}

function keep(raw, envelope) {
  const receivedAt = new Date();
  const to = envelope.rcptTo.map((r) => r.address);
  const base = { id: String(++lastId), receivedAt: receivedAt.toISOString(), to };
  return simpleParser(raw).then((mail) => {
    const headers = headersOf(mail.headerLines);
    return {
      ...base,
      messageId: mail.messageId ?? null,
      from: headers.from || envelope.mailFrom?.address || '',
      headerTo: headers.to || '',
      // To and Cc's addresses: an envelope recipient not among them was sent a blind copy.
      shown: [mail.to, mail.cc].flat().filter(Boolean).flatMap((a) => a.value)
        .flatMap((v) => (v.group ? v.group : [v])).map((v) => (v.address ?? '').toLowerCase()),
      subject: mail.subject ?? '',
      date: (mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date : receivedAt).toISOString(),
      text: mail.text ?? '',
      html: mail.html || null,
      headers,
    };
  }, (err) => {
    // Kept anyway, as it came: the point of a catcher is to show what was sent.
    console.error(`${receivedAt.toISOString()} could not parse a message for ${to.join(', ')}: ${err.message}`);
    return {
      ...base, messageId: null, from: envelope.mailFrom?.address || '', headerTo: '', shown: [], subject: '(could not be parsed)',
      date: base.receivedAt, text: raw.toString('utf8'), html: null, headers: {},
    };
  }).then((message) => {
    messages.push(message);
    messages.sort((a, b) => Number(a.id) - Number(b.id)); // in the order received, whichever parsed first
    if (messages.length > MAX_MESSAGES) messages.splice(0, messages.length - MAX_MESSAGES);
    // One line per message: who for and the subject, never the body (it may hold links that sign in).
    console.log(`${message.receivedAt} mail #${message.id} for ${to.join(', ')}: ${JSON.stringify(message.subject)}`);
  });
}

// --- SMTP: plain text on loopback (no STARTTLS), any credentials or none, 10 MB per message.
let smtpListening = false;
const smtp = new SMTPServer({
  banner: 'Gatehouse local mail catcher (nothing is relayed)',
  disabledCommands: ['STARTTLS'],
  authOptional: true,
  allowInsecureAuth: true,
  onAuth: (auth, session, callback) => callback(null, { user: auth.username || 'anyone' }),
  size: MAX_SIZE,
  rejectOversized: true,
  disableReverseLookup: true,
  maxClients: 100,
  logger: false,
  onData(stream, session, callback) {
    const chunks = [];
    let length = 0;
    stream.on('data', (chunk) => {
      if (length + chunk.length <= MAX_SIZE) chunks.push(chunk);
      length += chunk.length;
    });
    stream.on('error', (err) => callback(err));
    stream.on('end', () => {
      if (stream.sizeExceeded) {
        console.error(`${new Date().toISOString()} refused a message over ${MAX_SIZE} bytes`);
        return callback(Object.assign(new Error('Message too large'), { responseCode: 552 }));
      }
      keep(Buffer.concat(chunks), session.envelope).then(() => callback(null, 'Caught'), (err) => {
        console.error(`could not keep a message: ${err.message}`);
        callback(Object.assign(new Error('Could not keep the message'), { responseCode: 451 }));
      });
    });
  },
});
smtp.on('error', (err) => {
  if (!smtpListening) {
    console.error(err.code === 'EADDRINUSE'
      ? `Port ${SMTP_PORT} is in use by another program: set GATEHOUSE_MAIL_SMTP_PORT to a free port.` : err.message);
    process.exit(1);
  }
  console.error(`SMTP: ${err.message}`); // a client's broken connection, bad input, …: logged, never fatal
});

// --- Pages.
const escapeHtml = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pad = (n) => String(n).padStart(2, '0');
const when = (iso) => {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};
// The plain-text part: URLs become links, everything else is escaped.
const URL_RE = /https?:\/\/[^\s<>"'`]+/g;
function linkify(text) {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    const url = match[0].replace(/[.,;:!?)\]}]+$/, ''); // sentence punctuation after a URL
    out += escapeHtml(text.slice(last, match.index));
    out += `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(url)}</a>`;
    last = match.index + url.length;
  }
  return out + escapeHtml(text.slice(last));
}
// The HTML part for the sandboxed iframe: links open in a new tab (the frame may not navigate itself).
function srcdoc(html) {
  const base = '<base target="_blank">';
  for (const re of [/<head\b[^>]*>/i, /<html\b[^>]*>/i, /^\s*<!doctype\b[^>]*>/i]) {
    const m = re.exec(html);
    if (m) return html.slice(0, m.index + m[0].length) + base + html.slice(m.index + m[0].length);
  }
  return base + html;
}

const STYLE = `
:root { color-scheme: light dark; --bg: #f4f4f5; --fg: #18181b; --muted: #52525b; --card: #fff; --line: #d4d4d8; --link: #1d4ed8; }
@media (prefers-color-scheme: dark) { :root { --bg: #18181b; --fg: #f4f4f5; --muted: #a1a1aa; --card: #27272a; --line: #3f3f46; --link: #93c5fd; } }
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: var(--bg); color: var(--fg); }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; line-height: 1.25; overflow-wrap: anywhere; } h2 { font-size: 1.1rem; margin: 1.75rem 0 .5rem; }
a { color: var(--link); } p { margin: .25rem 0; } .muted { color: var(--muted); }
.bar { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; justify-content: space-between; margin: 1rem 0; }
button { font: inherit; padding: .35rem 1rem; border-radius: 4px; border: 1px solid var(--muted); background: var(--card); color: var(--fg); cursor: pointer; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); }
th, td { text-align: left; vertical-align: top; padding: .5rem .75rem; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
th { font-size: .85rem; font-weight: 600; color: var(--muted); } td.when { white-space: nowrap; color: var(--muted); }
td.subject a { font-weight: 600; }
.empty { padding: 2rem 1rem; text-align: center; background: var(--card); border: 1px dashed var(--line); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; padding: .75rem 1rem; background: var(--card); border: 1px solid var(--line); }
dt { font-weight: 600; color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
iframe { display: block; width: 100%; height: 36rem; box-sizing: border-box; border: 1px solid var(--line); background: #fff; }
pre { margin: 0; padding: .75rem 1rem; white-space: pre-wrap; overflow-wrap: anywhere; font: 14px/1.5 ui-monospace, monospace; background: var(--card); border: 1px solid var(--line); }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
@media (max-width: 40rem) {
  main { padding: 1rem .75rem 2rem; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  tr { display: grid; grid-template-columns: 1fr; padding: .5rem .75rem; border-bottom: 1px solid var(--line); }
  td { display: block; padding: 0; border: 0; } td.subject { order: -1; }
  td.to::before { content: "To: "; } td.from::before { content: "From: "; }
  td.to, td.from, td.when { font-size: .9rem; }
  dl { grid-template-columns: 1fr; gap: 0; } dd + dt { margin-top: .4rem; }
  iframe { height: 28rem; }
}`;

const page = (title, body) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="icon" href="data:,">
<style>${STYLE}</style></head>
<body><main>
${body}
</main></body></html>`;

const NOTE = `<p class="muted">It only catches mail sent by this checkout's Gatehouse (SMTP on 127.0.0.1:${SMTP_PORT}); nothing is delivered anywhere.</p>`;

function listPage() {
  const rows = messages.slice().reverse().map((m) => `<tr>
<td class="when"><time datetime="${escapeHtml(m.receivedAt)}">${escapeHtml(when(m.receivedAt))}</time></td>
<td class="to">${escapeHtml(m.to.join(', '))}</td>
<td class="from">${escapeHtml(m.from)}</td>
<td class="subject"><a href="/messages/${escapeHtml(m.id)}">${escapeHtml(m.subject || '(no subject)')}</a></td>
</tr>`).join('\n');
  const count = messages.length === 0 ? `None yet (the newest ${MAX_MESSAGES} are kept)`
    : `${messages.length} message${messages.length === 1 ? '' : 's'}, newest first (the newest ${MAX_MESSAGES} are kept)`;
  const list = messages.length === 0 ? '<p class="empty">No messages yet.</p>' : `<table>
<caption class="visually-hidden">Messages, newest first</caption>
<thead><tr><th scope="col">Received</th><th scope="col">To</th><th scope="col">From</th><th scope="col">Subject</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
  return page('Local mail catcher', `<h1>Local mail catcher</h1>
${NOTE}
<div class="bar"><h2 class="visually-hidden">Messages</h2><p>${count}</p>
<form method="post" action="/delete-all"><button type="submit">Delete all</button></form></div>
${list}`);
}

function messagePage(m) {
  const row = (label, value) => (value ? `<dt>${label}</dt><dd>${escapeHtml(value)}</dd>` : '');
  const headerTo = m.headerTo || m.to.join(', ');
  const differs = m.headerTo && m.to.some((address) => !m.shown.includes(address.toLowerCase()));
  return page(`${m.subject || '(no subject)'} – Local mail catcher`, `<p><a href="/">← All messages</a></p>
<h1>${escapeHtml(m.subject || '(no subject)')}</h1>
<dl>
${row('From', m.from)}
${row('To', headerTo)}
${differs ? row('Delivered to', m.to.join(', ')) : ''}
${row('Subject', m.subject)}
${row('Date', m.headers.date || m.date)}
${row('Message-ID', m.messageId)}
${row('Received', when(m.receivedAt))}
</dl>
<h2>HTML part</h2>
${m.html
    ? `<iframe title="The message's HTML part" sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="${escapeHtml(srcdoc(m.html))}"></iframe>`
    : '<p class="muted">This message has no HTML part.</p>'}
<h2>Plain-text part</h2>
${m.text ? `<pre>${linkify(m.text)}</pre>` : '<p class="muted">This message has no plain-text part.</p>'}`);
}

const notFoundPage = () => page('Not found – Local mail catcher', `<h1>Not found</h1>
<p>There is no such message: it may have been deleted, or the catcher restarted (it keeps messages in memory only).</p>
<p><a href="/">All messages</a></p>`);

// --- HTTP.
const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  // (not no-referrer: then the browser's form posts say Origin: null, and Delete all is refused)
  'Referrer-Policy': 'same-origin',
};
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'";
const send = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS, ...headers });
  res.end(body);
};
const html = (res, status, body) => send(res, status, body, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP });
const json = (res, status, body) => send(res, status, JSON.stringify(body), { 'Content-Type': 'application/json' });

// The JSON form of a message (end2end/tests/fixtures.ts reads it as `Mail`).
const api = ({ id, messageId, from, to, subject, date, receivedAt, text, html: body, headers }) =>
  ({ id, messageId, from, to, subject, date, receivedAt, text, html: body, headers });
const find = (id) => messages.find((m) => m.id === id);
const drain = (req) => new Promise((resolve) => { req.resume(); req.on('end', resolve); req.on('error', resolve); });

const web = createServer(async (req, res) => {
  const url = new URL(req.url, ORIGIN);
  const path = url.pathname;
  const route = `${req.method} ${path}`;
  try {
    if (route === 'GET /healthz' || route === 'HEAD /healthz') return send(res, 200, 'ok');
    if (route === 'GET /') return html(res, 200, listPage());
    if (route === 'POST /delete-all') {
      await drain(req);
      // A page of another site may not empty the list (the browser sends Origin on form posts).
      if (req.headers.origin && req.headers.origin !== `http://${req.headers.host}`) return send(res, 403, 'Forbidden');
      messages.length = 0;
      console.log(`${new Date().toISOString()} deleted every message`);
      return send(res, 303, '', { Location: '/' });
    }
    let m;
    if (req.method === 'GET' && (m = /^\/messages\/([^/]+)$/.exec(path))) {
      const message = find(m[1]);
      return message ? html(res, 200, messagePage(message)) : html(res, 404, notFoundPage());
    }
    if (route === 'GET /api/messages') {
      const to = url.searchParams.get('to')?.trim().toLowerCase();
      const found = messages.filter((x) => !to || x.to.some((address) => address.toLowerCase() === to));
      return json(res, 200, found.reverse().map(api));
    }
    if (route === 'DELETE /api/messages') {
      messages.length = 0;
      return send(res, 204, '');
    }
    if (req.method === 'GET' && (m = /^\/api\/messages\/([^/]+)$/.exec(path))) {
      const message = find(m[1]);
      return message ? json(res, 200, api(message)) : json(res, 404, { error: 'no such message' });
    }
    if (path.startsWith('/api/')) return json(res, 404, { error: 'not found' });
    html(res, 404, notFoundPage());
  } catch (err) {
    console.error(`${req.method} ${path}: ${err.message}`);
    if (!res.headersSent) send(res, 500, 'Internal error');
  }
});
web.on('error', (err) => {
  console.error(err.code === 'EADDRINUSE' ? `Port ${WEB_PORT} is in use by another program: set GATEHOUSE_MAIL_WEB_PORT to a free port.` : err.message);
  process.exit(1);
});

smtp.listen(SMTP_PORT, '127.0.0.1', () => {
  smtpListening = true;
  web.listen(WEB_PORT, '127.0.0.1', () => console.log(`Local mail catcher: SMTP on 127.0.0.1:${SMTP_PORT}, messages on ${ORIGIN}`));
});
