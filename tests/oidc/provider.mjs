// A real OpenID Provider (panva's oidc-provider, pinned in package.json) on 127.0.0.1, for the
// console's sign-in tests and for trying the console locally (`cargo xtask oidc-provider`).
// Never for production: any login name signs in, with any password.
//
//   node tests/oidc/provider.mjs --port 0 --client-id wexqs-console \
//     --redirect-uri http://127.0.0.1:8080/console/auth/callback
//
// The client secret comes from --client-secret or, kept off the command line, from the
// environment variable OIDC_CLIENT_SECRET. Once listening it prints one line of JSON on standard
// output, {"issuer":"http://127.0.0.1:PORT","port":PORT}, and nothing else there afterwards.
//
// What it offers: one confidential client (authorization code, PKCE with S256 required,
// client_secret_basic unless --token-endpoint-auth-method says client_secret_post), scopes
// openid email profile, ID tokens signed RS256 with an RSA key made at start, `iss` in every
// authorization response (RFC 9207). Sign-in is the library's development interactions: a
// plain HTML login form (the login name becomes `sub`; the password is ignored) and a consent
// form, both working without JavaScript. An account's `name` and `email` come from its login:
// `alice.smith` is "Alice Smith", alice.smith@example.nhs.uk.
//
// oidc-provider 9 warns "Unsupported runtime" below Node.js 22 LTS; on Node 20 (Debian's) it runs
// from 20.18 on, which has the URL.parse and crypto.hash it calls.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'client-id': { type: 'string', default: 'wexqs-console' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    'post-logout-redirect-uri': { type: 'string', multiple: true, default: [] },
    'token-endpoint-auth-method': { type: 'string', default: 'client_secret_basic' },
    // Ends the provider when standard input closes: a test's child dies with the test.
    'exit-with-stdin': { type: 'boolean', default: false },
  },
  strict: true,
});

function fail(message) {
  process.stderr.write(`provider.mjs: ${message}\n`);
  process.exit(2);
}

const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port ${args.port} is not a port`);
const clientSecret = args['client-secret'] ?? process.env.OIDC_CLIENT_SECRET;
if (!clientSecret) fail('give the client secret with --client-secret or OIDC_CLIENT_SECRET');
if (args['redirect-uri'].length === 0) fail('give at least one --redirect-uri');
const authMethod = args['token-endpoint-auth-method'];
if (!['client_secret_basic', 'client_secret_post'].includes(authMethod)) {
  fail('--token-endpoint-auth-method is client_secret_basic or client_secret_post');
}

/** `alice.smith` -> "Alice Smith". */
function displayName(login) {
  return login
    .split(/[._\-\s]+/)
    .filter(Boolean)
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join(' ');
}

function account(login) {
  return {
    accountId: login,
    async claims() {
      return {
        sub: login,
        name: displayName(login) || login,
        email: `${login.toLowerCase()}@example.nhs.uk`,
        email_verified: true,
      };
    },
  };
}

// The ID token signing key: RSA, made for this run, so RS256 (every relying party's default).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: randomBytes(8).toString('hex'),
  alg: 'RS256',
  use: 'sig',
};

const configuration = {
  clients: [
    {
      client_id: args['client-id'],
      client_secret: clientSecret,
      redirect_uris: args['redirect-uri'],
      post_logout_redirect_uris: args['post-logout-redirect-uri'],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: authMethod,
      id_token_signed_response_alg: 'RS256',
    },
  ],
  jwks: { keys: [signingKey] },
  // PKCE for every client, confidential ones too (the library's default asks it of public ones).
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // The scopes' claims in the ID token itself, not only at the userinfo endpoint.
  conformIdTokenClaims: false,
  findAccount: (_ctx, id) => account(id),
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
};

const server = createServer();
server.on('error', (error) => fail(error.message));
server.listen(port, '127.0.0.1', () => {
  const bound = server.address().port;
  const issuer = `http://127.0.0.1:${bound}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, port: bound })}\n`);
});

if (args['exit-with-stdin']) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
