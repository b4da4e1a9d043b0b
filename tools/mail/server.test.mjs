// Sends mail to the catcher the way Gatehouse's server would (plain SMTP on loopback) and reads it
// back through the JSON API and the pages: node --test (npm test). Starts its own catcher on free ports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';

let SMTP_PORT;
let BASE;
let child;
let output = '';

const freePort = () => new Promise((resolve, reject) => {
  const server = createServer();
  server.on('error', reject);
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

before(async () => {
  SMTP_PORT = await freePort();
  const webPort = await freePort();
  BASE = `http://127.0.0.1:${webPort}`;
  child = spawn(process.execPath, [new URL('./server.mjs', import.meta.url).pathname], {
    env: { ...process.env, MAIL_SMTP_PORT: String(SMTP_PORT), MAIL_WEB_PORT: String(webPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  for (let i = 0; i < 50; i++) {
    try { if ((await fetch(`${BASE}/healthz`)).ok) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`catcher did not start:\n${output}`);
});
after(() => child.kill());

// A minimal SMTP client: sends each command, waits for its (possibly multi-line) reply, and
// returns every reply as { code, text }. `data` is sent after DATA, dot-stuffed, ending with ".".
function smtp(commands, data) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(SMTP_PORT, '127.0.0.1');
    const replies = [];
    const queue = [...commands];
    let buffer = '';
    let current = [];
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('close', () => resolve(replies));
    socket.on('data', (chunk) => {
      buffer += chunk;
      let i;
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        current.push(line.slice(4));
        if (line[3] === '-') continue; // more lines of the same reply
        const reply = { code: Number(line.slice(0, 3)), text: current.join('\n') };
        replies.push(reply);
        current = [];
        if (reply.code === 354) {
          socket.write(data.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..') + '\r\n.\r\n');
        } else if (queue.length) {
          socket.write(queue.shift() + '\r\n');
        } else {
          socket.end();
        }
      }
    });
  });
}
const send = (from, to, data) =>
  smtp(['EHLO test.local', `MAIL FROM:<${from}>`, ...to.map((t) => `RCPT TO:<${t}>`), 'DATA', 'QUIT'], data);

const multipart = ({ to, subject, text, html, messageId }) => `From: Gatehouse <no-reply@gatehouse.test>
To: ${to}
Subject: ${subject}
Date: Tue, 02 Jun 2026 10:00:00 +0000
Message-ID: ${messageId}
MIME-Version: 1.0
X-Test: one
X-Test: two
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

${text}
--b1
Content-Type: text/html; charset=utf-8

${html}
--b1--
`;
const api = async (path = '') => (await fetch(`${BASE}/api/messages${path}`)).json();

test('a multipart message: JSON API, list page, message page', async () => {
  const replies = await send('no-reply@gatehouse.test', ['Person@Example.test', 'bcc@example.test'], multipart({
    to: 'Dev Person <person@example.test>',
    subject: '=?UTF-8?Q?Reset_your_password_=E2=80=93_Gatehouse?=',
    text: 'Reset it here: https://localhost:3000/reset?token=abc&x=1.\n.A line starting with a dot <b>not bold</b>',
    html: '<!doctype html><html><head><title>t</title></head><body><p>Reset it <a href="https://localhost:3000/reset?token=abc&amp;x=1">here</a>.</p></body></html>',
    messageId: '<m1@gatehouse.test>',
  }));
  const ehlo = replies[1];
  assert.equal(ehlo.code, 250);
  assert.doesNotMatch(ehlo.text, /STARTTLS/);
  assert.equal(replies.at(-2).code, 250, JSON.stringify(replies)); // the message was accepted

  const [mail] = await api();
  assert.deepEqual(Object.keys(mail).sort(),
    ['date', 'from', 'headers', 'html', 'id', 'messageId', 'receivedAt', 'subject', 'text', 'to']);
  assert.equal(mail.subject, 'Reset your password – Gatehouse');
  assert.equal(mail.from, 'Gatehouse <no-reply@gatehouse.test>');
  assert.deepEqual(mail.to, ['Person@Example.test', 'bcc@example.test']);
  assert.equal(mail.messageId, '<m1@gatehouse.test>');
  assert.equal(mail.date, '2026-06-02T10:00:00.000Z');
  assert.match(mail.text, /^Reset it here: https:\/\/localhost:3000\/reset\?token=abc&x=1\.\n\.A line starting with a dot/);
  assert.match(mail.html, /<a href="https:\/\/localhost:3000\/reset\?token=abc&amp;x=1">here<\/a>/);
  assert.equal(mail.headers.subject, 'Reset your password – Gatehouse');
  assert.equal(mail.headers['x-test'], 'one\ntwo');
  assert.equal(mail.headers['message-id'], '<m1@gatehouse.test>');
  assert.deepEqual(await (await fetch(`${BASE}/api/messages/${mail.id}`)).json(), mail);
  assert.equal((await fetch(`${BASE}/api/messages/nope`)).status, 404);
  assert.match(output, /mail #\d+ for Person@Example\.test, bcc@example\.test: "Reset your password – Gatehouse"/);
  assert.doesNotMatch(output, /token=abc/); // the log never has the body

  const list = await fetch(`${BASE}/`);
  assert.equal(list.status, 200);
  assert.equal(list.headers.get('x-content-type-options'), 'nosniff');
  assert.match(list.headers.get('content-security-policy'), /default-src 'none'/);
  const listHtml = await list.text();
  assert.match(listHtml, /<title>Local mail catcher<\/title>/);
  assert.match(listHtml, /<html lang="en">/);
  assert.match(listHtml, new RegExp(`<a href="/messages/${mail.id}">Reset your password – Gatehouse</a>`));
  assert.match(listHtml, /only catches mail sent by this checkout's Gatehouse/);
  assert.match(listHtml, /<form method="post" action="\/delete-all"><button type="submit">Delete all<\/button><\/form>/);

  const page = await fetch(`${BASE}/messages/${mail.id}`);
  assert.equal(page.status, 200);
  const pageHtml = await page.text();
  assert.match(pageHtml, /<dt>From<\/dt><dd>Gatehouse &#60;no-reply@gatehouse\.test&#62;<\/dd>/);
  assert.match(pageHtml, /<dt>Message-ID<\/dt><dd>&#60;m1@gatehouse\.test&#62;<\/dd>/);
  assert.match(pageHtml, /<dt>Delivered to<\/dt><dd>Person@Example\.test, bcc@example\.test<\/dd>/);
  // The HTML part: escaped into srcdoc, with <base target="_blank"> right after <head>.
  assert.match(pageHtml, /<iframe title="The message's HTML part" sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="&#60;!doctype html&#62;&#60;html&#62;&#60;head&#62;&#60;base target=&#34;_blank&#34;&#62;&#60;title&#62;/);
  assert.match(pageHtml, /href=&#34;https:\/\/localhost:3000\/reset\?token=abc&#38;amp;x=1&#34;/);
  // The text part: the URL is a link (without the full stop after it), the rest escaped.
  assert.match(pageHtml, /<pre>Reset it here: <a href="https:\/\/localhost:3000\/reset\?token=abc&#38;x=1" target="_blank" rel="noopener noreferrer">https:\/\/localhost:3000\/reset\?token=abc&#38;x=1<\/a>\.\n\.A line starting with a dot &#60;b&#62;not bold&#60;\/b&#62;/);

  const missing = await fetch(`${BASE}/messages/999999`);
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /<h1>Not found<\/h1>/);
});

test('?to= filters by any recipient, case-insensitively; newest first', async () => {
  await send('a@gatehouse.test', ['first@example.test'], 'Subject: one\n\nbody one\n');
  await send('a@gatehouse.test', ['other@example.test', 'First@example.test'], 'Subject: two\n\nbody two\n');
  await send('a@gatehouse.test', ['other@example.test'], 'Subject: three\n\nbody three\n');
  const first = await api('?to=' + encodeURIComponent('FIRST@example.test'));
  assert.deepEqual(first.map((m) => m.subject), ['two', 'one']);
  assert.deepEqual((await api('?to=other@example.test')).map((m) => m.subject), ['three', 'two']);
  assert.deepEqual(await api('?to=nobody@example.test'), []);
  const all = await api();
  assert.deepEqual(all.slice(0, 3).map((m) => m.subject), ['three', 'two', 'one']);
  assert.ok(Number(all[0].id) > Number(all[1].id));
});

test('every value from a message is escaped in the pages', async () => {
  await send('x@gatehouse.test', ['xss@example.test'],
    'From: "<img src=x onerror=alert(1)>" <evil@example.test>\nSubject: <script>alert(1)</script> & "quotes"\n\n<script>alert(2)</script>\n');
  const [mail] = await api('?to=xss@example.test');
  assert.equal(mail.subject, '<script>alert(1)</script> & "quotes"');
  const list = await (await fetch(`${BASE}/`)).text();
  const page = await (await fetch(`${BASE}/messages/${mail.id}`)).text();
  for (const html of [list, page]) {
    assert.doesNotMatch(html, /<script/);
    assert.doesNotMatch(html, /<img/);
    assert.match(html, /&#60;script&#62;alert\(1\)&#60;\/script&#62; &#38; &#34;quotes&#34;/);
  }
  assert.match(page, /<pre>&#60;script&#62;alert\(2\)&#60;\/script&#62;/);
  assert.match(page, /This message has no HTML part\./);
});

test('any credentials are accepted; bad input is answered, not fatal', async () => {
  const auth = await smtp(['EHLO test.local', `AUTH PLAIN ${Buffer.from('\0user\0pass').toString('base64')}`, 'QUIT']);
  assert.equal(auth[2].code, 235);
  const bad = await smtp(['HELLO?', 'EHLO test.local', 'RCPT TO:<nobody@example.test>', 'STARTTLS', 'MAIL FROM:<>', 'RCPT TO:<broken@example.test>', 'DATA', 'QUIT'],
    'Content-Type: multipart/mixed; boundary="never-closed"\n\n--never-closed\nContent-Type: text/plain; charset=no-such-charset\nContent-Transfer-Encoding: base64\n\n!!!not base64\x00\n');
  assert.deepEqual(bad.map((r) => r.code).slice(0, 5), [220, 500, 250, 503, 500]);
  assert.equal(bad.at(-2).code, 250); // the broken message is kept all the same
  assert.equal((await api('?to=broken@example.test')).length, 1);
  // A connection that just drops.
  await new Promise((resolve) => createConnection(SMTP_PORT, '127.0.0.1', function () { this.destroy(); resolve(); }));
  assert.equal((await fetch(`${BASE}/healthz`)).status, 200);
});

test('DELETE /api/messages and the Delete all form empty the list', async () => {
  await send('a@gatehouse.test', ['del@example.test'], 'Subject: to delete\n\nx\n');
  assert.ok((await api()).length > 0);
  const res = await fetch(`${BASE}/api/messages`, { method: 'DELETE' });
  assert.equal(res.status, 204);
  assert.deepEqual(await api(), []);
  assert.match(await (await fetch(`${BASE}/`)).text(), /No messages yet\./);

  await send('a@gatehouse.test', ['del@example.test'], 'Subject: to delete too\n\nx\n');
  const foreign = await fetch(`${BASE}/delete-all`, { method: 'POST', redirect: 'manual', headers: { Origin: 'http://evil.test' } });
  assert.equal(foreign.status, 403);
  assert.equal((await api()).length, 1);
  const form = await fetch(`${BASE}/delete-all`, { method: 'POST', redirect: 'manual', headers: { Origin: BASE } });
  assert.equal(form.status, 303);
  assert.equal(form.headers.get('location'), '/');
  assert.deepEqual(await api(), []);
});

test('a message over 10 MB is refused', async () => {
  const declared = await smtp(['EHLO test.local', 'MAIL FROM:<a@gatehouse.test> SIZE=20000000', 'QUIT']);
  assert.equal(declared[2].code, 552);
  const big = await send('a@gatehouse.test', ['big@example.test'], 'Subject: big\n\n' + `${'x'.repeat(998)}\n`.repeat(11_000));
  assert.equal(big.at(-2).code, 552);
  assert.deepEqual(await api('?to=big@example.test'), []);
  assert.equal((await fetch(`${BASE}/healthz`)).status, 200);
});
