// Walks both stand-ins the way Gatehouse's server and a browser would: node --test (npm test).
// Starts its own provider on IDP_TEST_PORT (default 39999).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';

const PORT = Number(process.env.IDP_TEST_PORT ?? 39999);
const BASE = `http://127.0.0.1:${PORT}`;
const CALLBACK = 'http://localhost:3000/auth/callback?x=1';
const verifier = 'v'.repeat(43) + '-._~0123456789';
const challenge = createHash('sha256').update(verifier).digest('base64url');
let child;

before(async () => {
  child = spawn(process.execPath, [new URL('./server.mjs', import.meta.url).pathname], {
    env: { ...process.env, IDP_PORT: String(PORT) }, stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 50; i++) {
    try { if ((await fetch(`${BASE}/healthz`)).ok) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('provider did not start');
});
after(() => child.kill());

const get = (path, headers) => fetch(BASE + path, { headers, redirect: 'manual' });
const post = (path, body, headers = {}) => fetch(BASE + path, {
  method: 'POST', redirect: 'manual', body: new URLSearchParams(body),
  headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
});
const authParams = (extra) => ({
  client_id: 'gatehouse-local', redirect_uri: CALLBACK, state: 's t&"<>', code_challenge: challenge,
  code_challenge_method: 'S256', ...extra,
});
// Presses a button on the authorization page; returns the redirect's URL.
async function press(path, params, form) {
  const res = await post(path, { ...params, idp_action: 'continue', ...form });
  assert.equal(res.status, 302);
  return new URL(res.headers.get('location'));
}

test('discovery: issuer and every endpoint under /google', async () => {
  const doc = await (await get('/google/.well-known/openid-configuration')).json();
  assert.equal(doc.issuer, `${BASE}/google`);
  for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint']) {
    assert.ok(doc[key].startsWith(`${BASE}/google/`), key);
  }
});

test('google: page, code, token with PKCE, claims, single use', async () => {
  const params = authParams({ response_type: 'code', scope: 'openid email profile', nonce: 'n-0S6' });
  const page = await get('/google/authorize?' + new URLSearchParams(params));
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /<h1>Local development provider<\/h1>/);
  assert.match(html, /stands in for Google on this machine\. No real Google account is used\./);
  assert.match(html, /value="s t&#38;&#34;&#60;&#62;"/); // the state, escaped
  assert.equal((await get('/google/authorize?' + new URLSearchParams({ ...params, code_challenge_method: 'plain' }))).status, 400);

  const cancelled = await post('/google/authorize', { ...params, idp_action: 'cancel' });
  const cancelUrl = new URL(cancelled.headers.get('location'));
  assert.equal(cancelUrl.searchParams.get('error'), 'access_denied');
  assert.equal(cancelUrl.searchParams.get('state'), params.state);

  const back = await press('/google/authorize', params, { idp_email: 'Dev.Person@example.test', idp_name: 'Dev Person' });
  assert.equal(back.origin + back.pathname, 'http://localhost:3000/auth/callback');
  assert.equal(back.searchParams.get('x'), '1');
  assert.equal(back.searchParams.get('state'), params.state);
  const code = back.searchParams.get('code');
  const exchange = (v, c = code) => post('/google/token', {
    grant_type: 'authorization_code', code: c, redirect_uri: CALLBACK, code_verifier: v,
    client_id: 'gatehouse-local', client_secret: 'local-google-secret',
  });
  const ok = await exchange(verifier);
  assert.equal(ok.status, 200);
  const tokens = await ok.json();
  const [h, p, sig] = tokens.id_token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  const { keys } = await (await get('/google/jwks')).json();
  const key = createPublicKey({ key: keys[0], format: 'jwk' });
  assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url')), 'RS256 signature');
  assert.equal(JSON.parse(Buffer.from(h, 'base64url')).alg, 'RS256');
  assert.equal(claims.iss, `${BASE}/google`);
  assert.equal(claims.aud, 'gatehouse-local');
  assert.equal(claims.azp, 'gatehouse-local');
  assert.match(claims.sub, /^\d{21}$/);
  assert.equal(claims.email, 'Dev.Person@example.test');
  assert.equal(claims.email_verified, false); // the checkbox was not sent
  assert.equal(claims.name, 'Dev Person');
  assert.equal(claims.nonce, 'n-0S6');
  assert.equal(claims.exp - claims.iat, 3600);
  const info = await (await get('/google/userinfo', { Authorization: `Bearer ${tokens.access_token}` })).json();
  assert.equal(info.sub, claims.sub);
  assert.equal((await exchange(verifier)).status, 400, 'a code is single use');

  // Same email (any case), same sub; a wrong verifier is refused.
  const again = await press('/google/authorize', params, { idp_email: 'dev.person@example.test', idp_name: 'X', idp_email_verified: 'true' });
  const wrong = await exchange('w'.repeat(43), again.searchParams.get('code'));
  assert.equal(wrong.status, 400);
  assert.deepEqual(await wrong.json(), { error: 'invalid_grant' });
  const third = await press('/google/authorize', params, { idp_email: 'dev.person@example.test', idp_name: 'X', idp_email_verified: 'true' });
  const claims3 = JSON.parse(Buffer.from((await (await exchange(verifier, third.searchParams.get('code'))).json()).id_token.split('.')[1], 'base64url'));
  assert.equal(claims3.sub, claims.sub);
  assert.equal(claims3.email_verified, true);
});

test('github: page, code, token, user and emails', async () => {
  const params = authParams({ scope: 'read:user user:email' });
  const html = await (await get('/github/login/oauth/authorize?' + new URLSearchParams(params))).text();
  assert.match(html, /stands in for GitHub on this machine\. No real GitHub account is used\./);
  assert.match(html, /<label for="idp_username">Username<\/label>/);
  const back = await press('/github/login/oauth/authorize', params, {
    idp_email: 'dev.person@example.test', idp_name: 'Dev Person', idp_username: 'dev-person', idp_email_verified: 'true',
  });
  const code = back.searchParams.get('code');
  const form = { code, redirect_uri: CALLBACK, code_verifier: verifier };
  const basic = { Authorization: 'Basic ' + Buffer.from('gatehouse-local:local-github-secret').toString('base64'), Accept: 'application/json' };
  const badSecret = await post('/github/login/oauth/access_token', { ...form, client_id: 'gatehouse-local', client_secret: 'nope' }, { Accept: 'application/json' });
  assert.equal(badSecret.status, 200);
  assert.equal((await badSecret.json()).error, 'incorrect_client_credentials');
  // (the failed attempt used the code up: a new one)
  const code2 = (await press('/github/login/oauth/authorize', params, { idp_email: 'dev.person@example.test', idp_username: 'dev-person' })).searchParams.get('code');
  assert.notEqual(code, code2);
  const ok = await post('/github/login/oauth/access_token', { ...form, code: code2 }, basic);
  const token = await ok.json();
  assert.deepEqual(Object.keys(token), ['access_token', 'token_type', 'scope']);
  assert.equal(token.token_type, 'bearer');
  const replay = await (await post('/github/login/oauth/access_token', { ...form, code: code2 }, basic)).json();
  assert.equal(replay.error, 'bad_verification_code');
  const user = await (await get('/github/api/user', { Authorization: `token ${token.access_token}` })).json();
  assert.ok(Number.isSafeInteger(user.id) && user.id > 0);
  assert.equal(user.login, 'dev-person');
  assert.equal(user.email, 'dev.person@example.test');
  const emails = await (await get('/github/api/user/emails', { Authorization: `Bearer ${token.access_token}` })).json();
  assert.deepEqual(emails, [
    { email: 'dev.person@example.test', primary: true, verified: false, visibility: 'private' },
    { email: 'dev-person@users.noreply.github.com', primary: false, verified: true, visibility: null },
  ]);
  const unknown = await get('/github/api/user', { Authorization: 'Bearer nope' });
  assert.equal(unknown.status, 401);
  assert.deepEqual(await unknown.json(), { message: 'Bad credentials' });
});
