// A real OpenID provider for Uma's integration tests: the certified `oidc-provider` package on a
// loopback port, with a few people who carry a `groups` claim and a sign-in page that takes a
// person's id and nothing else (tests post it; the browser test fills it in).
//
// Started by tests/support/oidc.rs as `node provider.mjs [--conform]`. It prints one line of
// JSON, `{"port": N}`, once it listens, and exits when its standard input closes (its test is
// over). Until a test posts `POST /test/setup {"origin", "names"}` (Uma's origin and provider
// names, from which the redirect URIs are made) it answers 503.
//
// Clients, all with the secret `uma-secret`:
//   uma           an honest client;
//   uma-expired   its tokens are issued by a clock two hours behind (so they arrive expired);
//   uma-aud       its ID token is one the provider signed for another client (`aud` is wrong).
// `--conform` keeps the ID token to the standard's minimum when an access token is issued
// (the profile claims, groups included, come only from the userinfo endpoint).

import http from 'node:http';
import { generateKeyPair, exportJWK, SignJWT, decodeJwt } from 'jose';
import Provider from 'oidc-provider';

const conform = process.argv.includes('--conform');
const SECRET = 'uma-secret';

/** The people, by account id (their `sub`). */
const users = {
  alice: { preferred_username: 'alice', name: 'Alice Example', email: 'alice@example.com', groups: ['devs'] },
  bob: { preferred_username: 'bob', name: 'Bob Boss', email: 'bob@example.com', groups: ['/uma-admins', 'devs'] },
  admin: { preferred_username: 'admin', name: 'Not The Admin', email: 'admin@example.com', groups: [] },
  carol: { preferred_username: 'carol', name: 'Carol', email: 'carol@example.com', groups: ['ops'] },
  dave: { preferred_username: 'dave', name: 'Dave', email: 'dave@example.com', groups: ['devs'] },
  erin: { preferred_username: 'erin', name: 'Erin', email: 'erin@example.com', groups: ['devs'] },
  nogroups: { preferred_username: 'nogroups', name: 'No Groups', email: 'nogroups@example.com' },
};

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

let provider = null;

/** Builds the provider once the test says where Uma is. */
function setup(issuer, origin, names) {
  const redirect_uris = names.map((n) => `${origin}/api/auth/oidc/${n}/callback`);
  const client = (client_id) => ({
    client_id,
    client_secret: SECRET,
    redirect_uris,
    post_logout_redirect_uris: [`${origin}/login`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  const p = new Provider(issuer, {
    clients: ['uma', 'uma-expired', 'uma-aud'].map(client),
    jwks: { keys: [jwk] },
    cookies: { keys: ['uma-test-cookie-key'] },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'groups'],
      email: ['email'],
    },
    conformIdTokenClaims: conform,
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
    async findAccount(ctx, id) {
      if (!users[id]) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...users[id] }) };
    },
  });
  p.use(tamper);
  return p;
}

/** The client id of a token request (`client_secret_basic`). */
function tokenClient(ctx) {
  const auth = ctx.get('authorization');
  if (!auth.startsWith('Basic ')) return null;
  const [id] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
  return decodeURIComponent(id);
}

/** What the two dishonest clients get instead of the honest answer. */
async function tamper(ctx, next) {
  const client = ctx.path === '/token' && ctx.method === 'POST' ? tokenClient(ctx) : null;
  if (client === 'uma-expired') {
    const now = Date.now;
    Date.now = () => now() - 2 * 3600 * 1000;
    try {
      await next();
    } finally {
      Date.now = now;
    }
    return;
  }
  await next();
  if (client === 'uma-aud' && ctx.body?.id_token) {
    const claims = { ...decodeJwt(ctx.body.id_token), aud: 'someone-else' };
    ctx.body = {
      ...ctx.body,
      id_token: await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
        .sign(privateKey),
    };
  }
}

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

function send(res, status, type, text) {
  res.writeHead(status, { 'content-type': type });
  res.end(text);
}

/** The sign-in page: one field, the person's id. */
async function interaction(req, res, uid) {
  if (req.method === 'GET') {
    await provider.interactionDetails(req, res);
    return send(res, 200, 'text/html; charset=utf-8', `<!doctype html><title>Test IdP</title>
<h1>Test IdP</h1>
<form method="post" action="/interaction/${uid}">
  <label>Account <input name="account" autofocus></label>
  <button type="submit">Sign in</button>
</form>`);
  }
  const account = new URLSearchParams(await body(req)).get('account');
  if (!users[account]) return send(res, 400, 'text/plain', `no such account: ${account}`);
  const { params } = await provider.interactionDetails(req, res);
  const grant = new provider.Grant({ accountId: account, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: account }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

/** `/test/…`: set up, and change a person's claims. */
async function control(req, res, issuer) {
  const url = new URL(req.url, issuer);
  if (req.method === 'POST' && url.pathname === '/test/setup') {
    const { origin, names } = JSON.parse(await body(req));
    provider = setup(issuer, origin, names);
    return send(res, 200, 'application/json', '{"ok":true}');
  }
  const user = url.pathname.match(/^\/test\/users\/([\w-]+)$/);
  if (req.method === 'PUT' && user) {
    users[user[1]] = JSON.parse(await body(req));
    return send(res, 200, 'application/json', '{"ok":true}');
  }
  return send(res, 404, 'text/plain', 'not found');
}

const server = http.createServer(async (req, res) => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  try {
    if (req.url.startsWith('/test/')) return await control(req, res, issuer);
    if (!provider) return send(res, 503, 'text/plain', 'not set up');
    const uid = req.url.match(/^\/interaction\/([\w-]+)$/);
    if (uid) return await interaction(req, res, uid[1]);
    return provider.callback()(req, res);
  } catch (e) {
    if (!res.headersSent) send(res, 500, 'text/plain', String(e?.stack ?? e));
  }
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});

// The test is over when its end of the pipe closes.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
