// A real OpenID Connect provider for livegrid's sign-in e2e test: panva's oidc-provider
// with its development login page (any password is accepted for a known account).
// Usage: node provider.mjs PORT CLIENT_ID CLIENT_SECRET
// Accounts: vera (group livegrid-viewers), otto (group livegrid-operators),
// ada (group livegrid-admins). Redirect URIs: any http://127.0.0.1:<port>/login, since
// the test's ports are chosen when it runs.
import Provider from "oidc-provider";

const [port, clientId, clientSecret] = process.argv.slice(2);
const accounts = {
  vera: ["livegrid-viewers"],
  otto: ["livegrid-operators"],
  ada: ["livegrid-admins"],
};

const provider = new Provider(`http://localhost:${port}`, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: ["http://127.0.0.1:1/login"],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    },
  ],
  claims: { openid: ["sub"], profile: ["preferred_username", "name"], groups: ["groups"] },
  scopes: ["openid", "profile", "groups"],
  conformIdTokenClaims: false, // the claims in the ID token itself, where Panel reads them
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["livegrid-e2e-oidc-cookie-key"] },
  async findAccount(_ctx, id) {
    if (!(id in accounts)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: id, groups: accounts[id] };
      },
    };
  },
  async loadExistingGrant(ctx) {
    // First-party client: grant the asked scopes without a consent page.
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid profile groups");
    grant.addOIDCClaims(["preferred_username", "name", "groups"]);
    await grant.save();
    return grant;
  },
});

const loopback = /^http:\/\/127\.0\.0\.1:[0-9]{1,5}\/login$/;
provider.Client.prototype.redirectUriAllowed = function allowed(uri) {
  return loopback.test(uri);
};

provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`oidc-provider ready at http://localhost:${port}`);
});
