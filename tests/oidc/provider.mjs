// A real OpenID Connect provider for scriptd's sign-in tests: panva's
// oidc-provider with its development login and consent pages, one static
// client and a table of people. It listens on a free loopback port and
// prints {"issuer": "..."} on its first line of output; it exits when its
// standard input closes, so it never outlives the test process.
import http from 'node:http';
import Provider from 'oidc-provider';

// Any login name signs in (the development pages take any password); these
// are the groups of the people the tests use.
const GROUPS = {
  vera: ['viewers'],
  otto: ['ops'],
  olga: ['admins'],
  bea: ['backup-team'],
};

function account(id) {
  return {
    accountId: id,
    claims: () => ({
      sub: id,
      email: `${id}@example.test`,
      email_verified: true,
      name: id.charAt(0).toUpperCase() + id.slice(1),
      groups: GROUPS[id] ?? [],
    }),
  };
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'scriptd',
      client_secret: 'test-secret',
      // A native client's loopback redirect URI matches any port
      // (RFC 8252, 7.3): each test's scriptd listens on its own.
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/ui/oidc/callback'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    // The person's claims go into the ID token, as Keycloak's and Okta's
    // mappers do, so scriptd needs no userinfo call.
    conformIdTokenClaims: false,
    findAccount: (_ctx, id) => account(id),
    pkce: { required: () => true, methods: ['S256'] },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['scriptd-tests-only'] },
  });
  provider.proxy = false;
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

// Only the issuer line goes to standard output; whatever the provider
// logs later goes to standard error, and a closed output is no crash.
console.log = (...args) => process.stderr.write(`${args.join(' ')}\n`);
console.info = console.log;
process.stdout.on('error', () => {});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
