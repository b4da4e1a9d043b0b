// Local sign-in provider for development and the end-to-end tests: stands in for Google (OpenID
// Connect, under /google) and GitHub (OAuth 2 and its user API, under /github) on 127.0.0.1.
// Nobody signs in with a real account: a form asks for the email, name and so on to sign in as.
// Usage: IDP_PORT=39999 node tools/idp/server.mjs (scripts/idp.sh starts it).
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const PORT = Number(process.env.IDP_PORT);
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) {
  console.error('IDP_PORT must be set to a port number');
  process.exit(1);
}
const ORIGIN = `http://127.0.0.1:${PORT}`;
// The one client each provider knows: client_id and its secret.
const CLIENT_ID = 'gatehouse-local';
const SECRETS = { google: 'local-google-secret', github: 'local-github-secret' };
const CODE_TTL_MS = 10 * 60 * 1000;

// --- Shared state: authorization codes (single use) and the access tokens they were exchanged for.
const codes = new Map(); // code -> { provider, clientId, redirectUri, challenge, nonce, scope, user, expires }
const tokens = { google: new Map(), github: new Map() }; // access token -> user

const sha256 = (s) => createHash('sha256').update(s).digest();
// Google's sub: 21 decimal digits, the same for the same (lowercased) email on every run.
const googleSub = (email) => BigInt('0x' + sha256(email.toLowerCase()).toString('hex')).toString().slice(0, 21);
// GitHub's numeric id: the first 48 bits of the same hash, plus one (1 ≤ id ≤ 2^48 < 2^53).
const githubId = (email) => sha256(email.toLowerCase()).readUIntBE(0, 6) + 1;
const s256 = (verifier) => createHash('sha256').update(verifier).digest('base64url');
const newSecret = (prefix = '') => prefix + randomBytes(20).toString('hex');

// --- Google: oauth2-mock-server serves discovery, JWKS, the token endpoint and signs the tokens
// (RS256); its issuer URL carries the /google prefix, so every URL it advertises is under /google.
const issuer = new OAuth2Issuer(false);
issuer.url = `${ORIGIN}/google`;
await issuer.keys.generate('RS256');
const google = new OAuth2Service(issuer);
// The token request passed to the mock carries the checked grant (req.grant): put its claims in.
google.on('beforeTokenSigning', (token, req) => {
  const { user, clientId, nonce, authTime } = req.grant;
  const sub = googleSub(user.email);
  if (!('aud' in token.payload)) return Object.assign(token.payload, { sub }); // the access token
  Object.assign(token.payload, {
    sub, aud: clientId, azp: clientId, email: user.email, email_verified: user.verified, name: user.name,
  });
  if (nonce !== undefined) token.payload.nonce = nonce;
  // asked for max_age (a re-verification), Google says when the person signed in: here, when the form was sent
  if (authTime !== undefined) token.payload.auth_time = authTime;
});
google.on('beforeResponse', (response, req) => {
  if (response.statusCode !== 200) return;
  delete response.body.refresh_token; // no refresh grant here (real Google: only with access_type=offline)
  tokens.google.set(response.body.access_token, req.grant.user);
});
google.on('beforeUserinfo', (response, req) => {
  const user = tokens.google.get(bearer(req));
  if (!user) return Object.assign(response, { statusCode: 401, body: { error: 'invalid_token' } });
  response.body = { sub: googleSub(user.email), email: user.email, email_verified: user.verified, name: user.name };
});

// --- Small HTTP helpers.
const send = (res, status, body, headers = {}) => {
  const json = typeof body !== 'string';
  res.writeHead(status, {
    'Content-Type': json ? 'application/json' : 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers,
  });
  res.end(json ? JSON.stringify(body) : body);
};
const redirect = (res, url) => send(res, 302, '', { Location: url.href });
const readBody = (req) => new Promise((resolve, reject) => {
  let data = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { data += chunk; if (data.length > 65536) req.destroy(new Error('body too large')); });
  req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(data)))); // form bodies only
  req.on('error', reject);
});
const bearer = (req) => /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
// Client credentials from HTTP Basic auth (form-encoded, RFC 6749 2.3.1) or else from the body.
const clientCredentials = (req, body) => {
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!basic) return { id: body.client_id, secret: body.client_secret };
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  const dec = (s) => { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { return s; } };
  return { id: dec(decoded.slice(0, i)), secret: dec(decoded.slice(i + 1)) };
};
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// --- The authorization page, shared by both providers. Form fields are named idp_*; every other
// field is an original query parameter, carried along in a hidden input.
const FIELDS = [ // name, label, input type, prefilled value
  ['email', 'Email', 'email', 'dev.person@example.test'], ['name', 'Name', 'text', 'Dev Person'],
  ['username', 'Username', 'text', 'dev-person'], // GitHub only
];
function page(provider, label, params) {
  const hidden = Object.entries(params).filter(([k]) => !k.startsWith('idp_'))
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('\n');
  const fields = FIELDS.filter(([f]) => provider === 'github' || f !== 'username').map(([f, text, type, value]) =>
    `<p><label for="idp_${f}">${text}</label>
<input id="idp_${f}" name="idp_${f}" type="${type}" value="${escapeHtml(value)}" required autocomplete="off"></p>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local development provider (${label})</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f4f5; color: #18181b; }
main { max-width: 28rem; margin: 3rem auto; padding: 2rem; background: #fff; border: 1px solid #d4d4d8; border-radius: 8px; }
h1 { font-size: 1.4rem; margin-top: 0; } label { display: block; font-weight: 600; }
input[type=email], input[type=text] { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; border: 1px solid #71717a; border-radius: 4px; }
.check label { display: inline; margin-left: .4rem; } .actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
button { font: inherit; padding: .5rem 1.25rem; border-radius: 4px; border: 1px solid #3f3f46; background: #fff; color: #18181b; cursor: pointer; }
button[value=continue] { background: #1d4ed8; border-color: #1d4ed8; color: #fff; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
</style></head>
<body><main>
<h1>Local development provider</h1>
<p>This page stands in for ${label} on this machine. No real ${label} account is used.</p>
<p>Signing in to <strong>${escapeHtml(params.client_id)}</strong>, which will receive the details below.</p>
<form method="post" action="/${provider}/${provider === 'github' ? 'login/oauth/authorize' : 'authorize'}">
${hidden}
${fields}
<p class="check"><input id="idp_email_verified" name="idp_email_verified" type="checkbox" value="true" checked><label for="idp_email_verified">Email verified</label></p>
<div class="actions"><button type="submit" name="idp_action" value="continue">Continue</button>
<button type="submit" name="idp_action" value="cancel" formnovalidate>Cancel</button></div>
</form></main></body></html>`;
}

// GET shows the page; POST (its buttons) sends the browser back to redirect_uri with a code or an error.
async function authorize(req, res, provider, query) {
  const params = req.method === 'POST' ? await readBody(req) : Object.fromEntries(query);
  const label = provider === 'github' ? 'GitHub' : 'Google';
  const missing = ['client_id', 'redirect_uri', 'state', 'code_challenge'].filter((k) => !params[k]);
  if (missing.length) return send(res, 400, `Refused: missing ${missing.join(', ')}.`);
  if (params.client_id !== CLIENT_ID) return send(res, 400, 'Refused: unknown client_id.');
  if (params.code_challenge_method !== 'S256') return send(res, 400, 'Refused: code_challenge_method must be S256.');
  if (provider === 'google' && params.response_type !== 'code') return send(res, 400, 'Refused: response_type must be code.');
  if (provider === 'google' && !(params.scope ?? '').split(' ').includes('openid')) return send(res, 400, 'Refused: scope must include openid.');
  let back;
  try { back = new URL(params.redirect_uri); } catch { back = null; }
  if (!back || !/^https?:$/.test(back.protocol)) return send(res, 400, 'Refused: redirect_uri must be an http(s) URL.');

  if (req.method !== 'POST' || !params.idp_action) {
    return send(res, 200, page(provider, label, params), {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    });
  }
  if (params.idp_action === 'continue') {
    const email = (params.idp_email ?? '').trim();
    if (provider === 'google' && !email) return send(res, 400, 'Refused: an email is required.');
    const user = {
      email: email || null, name: params.idp_name ?? '', username: params.idp_username || 'dev-person',
      verified: params.idp_email_verified === 'true',
    };
    const code = newSecret();
    codes.set(code, {
      provider, clientId: params.client_id, redirectUri: params.redirect_uri, challenge: params.code_challenge,
      nonce: params.nonce, scope: params.scope, user, expires: Date.now() + CODE_TTL_MS,
      authTime: provider === 'google' && params.max_age !== undefined && params.max_age !== '' ? Math.floor(Date.now() / 1000) : undefined,
    });
    back.searchParams.set('code', code);
  } else {
    back.searchParams.set('error', 'access_denied');
    back.searchParams.set('error_description', `The user cancelled signing in at the local ${label} stand-in.`);
  }
  back.searchParams.set('state', params.state);
  return redirect(res, back);
}

// Checks a token request against its code (which is used up either way); returns an error or the grant.
function takeCode(provider, body, creds) {
  if (creds.id !== CLIENT_ID || creds.secret !== SECRETS[provider]) return { error: 'client' };
  const grant = codes.get(body.code ?? '');
  if (grant) codes.delete(body.code);
  if (!grant || grant.provider !== provider || grant.expires < Date.now() || grant.clientId !== creds.id
    || grant.redirectUri !== body.redirect_uri || s256(body.code_verifier ?? '') !== grant.challenge) {
    return { error: 'grant' };
  }
  return { grant };
}

async function googleToken(req, res) {
  const body = await readBody(req);
  if (body.grant_type !== 'authorization_code') return send(res, 400, { error: 'unsupported_grant_type' });
  const { error, grant } = takeCode('google', body, clientCredentials(req, body));
  if (error === 'client') return send(res, 401, { error: 'invalid_client' });
  if (error) return send(res, 400, { error: 'invalid_grant' });
  // Checked: the mock answers with its tokens (no code_verifier: it would look for its own codes).
  req.grant = grant;
  req.body = { grant_type: 'authorization_code', code: body.code, client_id: grant.clientId, scope: grant.scope };
  req.url = '/token';
  google.requestHandler(req, res);
}

// --- GitHub: the token endpoint answers errors with status 200, like the real one.
const GITHUB_ERRORS = {
  client: ['incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.'],
  grant: ['bad_verification_code', 'The code passed is incorrect or expired.'],
};
const GITHUB_ERROR_DOCS = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/';
async function githubToken(req, res) {
  const body = await readBody(req);
  const { error, grant } = takeCode('github', body, clientCredentials(req, body));
  let answer;
  if (error) {
    const [code, description] = GITHUB_ERRORS[error];
    answer = { error: code, error_description: description, error_uri: `${GITHUB_ERROR_DOCS}#${code.replace(/_/g, '-')}` };
  } else {
    const accessToken = newSecret('gho_');
    tokens.github.set(accessToken, grant.user);
    answer = { access_token: accessToken, token_type: 'bearer', scope: 'read:user,user:email' };
  }
  if (/json/.test(req.headers.accept ?? '')) return send(res, 200, answer);
  send(res, 200, new URLSearchParams(answer).toString(), { 'Content-Type': 'application/x-www-form-urlencoded' });
}

function githubApi(req, res, path) {
  const user = tokens.github.get(bearer(req));
  if (!user) return send(res, 401, { message: 'Bad credentials' });
  if (path === '/github/api/user') {
    const id = githubId(user.email ?? `${user.username}@users.noreply.github.com`);
    return send(res, 200, { id, login: user.username, name: user.name, email: user.email, avatar_url: null });
  }
  const noreply = { email: `${user.username}@users.noreply.github.com`, primary: false, verified: true, visibility: null };
  if (!user.email) return send(res, 200, [{ ...noreply, primary: true }]);
  send(res, 200, [{ email: user.email, primary: true, verified: user.verified, visibility: 'private' }, noreply]);
}

// --- The router: one line of log per request (method, path, status; never the query or a body).
const server = createServer(async (req, res) => {
  const url = new URL(req.url, ORIGIN);
  const path = url.pathname;
  res.on('finish', () => console.log(`${new Date().toISOString()} ${req.method} ${path} ${res.statusCode}`));
  const route = `${req.method} ${path}`;
  try {
    if (route === 'GET /healthz' || route === 'HEAD /healthz') return send(res, 200, 'ok');
    if (route === 'GET /google/authorize' || route === 'POST /google/authorize') return await authorize(req, res, 'google', url.searchParams);
    if (route === 'POST /google/token') return await googleToken(req, res);
    if (path.startsWith('/google/')) { // discovery, JWKS, userinfo, …: the mock, without the prefix
      req.url = req.url.slice('/google'.length);
      return google.requestHandler(req, res);
    }
    if (route === 'GET /github/login/oauth/authorize' || route === 'POST /github/login/oauth/authorize') {
      return await authorize(req, res, 'github', url.searchParams);
    }
    if (route === 'POST /github/login/oauth/access_token') return await githubToken(req, res);
    if (route === 'GET /github/api/user' || route === 'GET /github/api/user/emails') return githubApi(req, res, path);
    send(res, 404, 'Not found');
  } catch (err) {
    console.error(`${req.method} ${path}: ${err.message}`);
    if (!res.headersSent) send(res, 400, 'Bad request');
  }
});

server.on('error', (err) => {
  console.error(err.code === 'EADDRINUSE' ? `Port ${PORT} is in use by another program: set GATEHOUSE_IDP_PORT to a free port.` : err.message);
  process.exit(1);
});
server.listen(PORT, '127.0.0.1', () => console.log(`Local sign-in provider on ${ORIGIN} (Google: ${ORIGIN}/google, GitHub: ${ORIGIN}/github)`));
