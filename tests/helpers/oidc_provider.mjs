// An OpenID Connect provider on loopback for tests/test_hub_signin.py: node-oidc-provider (npm `oidc-provider`,
// installed with the hub's proxy from deploy/jupyterhub/package.json), with its own sign-in and consent pages
// (its development interactions: any password is taken, the login names the account). It knows the accounts it
// is given, each with a directory's `groups` claim, handed out with the `profile` scope as Keycloak's or Entra
// ID's group claims are configured to be.
//
//   OIDC_PROVIDER_MODULE=<node_modules/oidc-provider/lib/index.js> node oidc_provider.mjs '{"issuer": ...,
//     "port": ..., "client": {"client_id", "client_secret", "redirect_uris": [...]}, "people": {"ana": ["cohort"]}}'
import { pathToFileURL } from 'node:url';

const { default: Provider } = await import(pathToFileURL(process.env.OIDC_PROVIDER_MODULE).href);
const setup = JSON.parse(process.argv[2]);

const provider = new Provider(setup.issuer, {
  clients: [{ ...setup.client, grant_types: ['authorization_code'], response_types: ['code'] }],
  claims: { openid: ['sub'], profile: ['preferred_username', 'name', 'groups'], email: ['email'] },
  cookies: { keys: ['a key for this test provider only'] },
  async findAccount(ctx, id) {
    if (!(id in setup.people)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: id, email: `${id}@example.org`, groups: setup.people[id] };
      },
    };
  },
});
provider.listen(setup.port, '127.0.0.1', () => console.log('listening'));
