// An OpenID provider for tests: oidc-provider (an OpenID-certified implementation), not an
// imitation, on a loopback port. Its login and consent step is scripted: whoever `signInAs` names
// is signed in and consents to what was asked. Like real providers, claims asked for by scope come
// from the userinfo endpoint (the ID token carries the subject). For the failure tests, the token
// endpoint's answer can be tampered with on the way out: a broken signature, or another issuer.
import http from "node:http";
import { generateKeyPairSync } from "node:crypto";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface SimAccount {
  preferred_username: string;
  email: string;
  name: string;
  /** Left out of the claims when undefined: a provider not set up to send groups. */
  groups?: string[];
}

export const OIDC_CLIENT = { id: "patchbay", secret: "oidc-client-SECRET-value-0001" };

export class OidcSim {
  readonly accounts = new Map<string, SimAccount>();
  /** The subject the next sign-in is made as. */
  signInAs = "";
  tamper: "none" | "signature" | "issuer" = "none";
  issuer = "";
  #server: http.Server | undefined;

  async start(redirectUri: string): Promise<void> {
    this.#server = http.createServer();
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.issuer = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = { ...privateKey.export({ format: "jwk" }), kid: "sim-key-1", alg: "RS256", use: "sig" };
    const provider = new Provider(this.issuer, {
      clients: [
        {
          client_id: OIDC_CLIENT.id,
          client_secret: OIDC_CLIENT.secret,
          redirect_uris: [redirectUri],
          grant_types: ["authorization_code"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_basic",
        },
      ],
      jwks: { keys: [jwk as never] },
      cookies: { keys: ["sim-cookie-key-0001"] },
      claims: { openid: ["sub"], profile: ["preferred_username", "name", "groups"], email: ["email"] },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      findAccount: async (_ctx, sub) => {
        const account = this.accounts.get(sub);
        if (!account) return undefined;
        return { accountId: sub, claims: async () => ({ sub, ...account }) };
      },
      renderError: async (ctx, out) => {
        ctx.type = "text";
        ctx.body = `${out.error}: ${out.error_description ?? ""}`;
      },
    });
    provider.use(async (ctx, next) => {
      await next();
      const body = ctx.body as { id_token?: string } | undefined;
      if (ctx.path === "/token" && body?.id_token && this.tamper !== "none") {
        const [header, payload, signature] = body.id_token.split(".") as [string, string, string];
        if (this.tamper === "signature") {
          const flipped = (signature[10] === "A" ? "B" : "A") + signature.slice(11);
          body.id_token = `${header}.${payload}.${signature.slice(0, 10)}${flipped}`;
        } else {
          const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
          claims.iss = "https://impostor.example";
          body.id_token = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
        }
      }
    });
    const handle = provider.callback();
    const serve = async (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (!req.url?.startsWith("/interaction/")) return handle(req, res);
      // The login and consent pages, scripted: sign in as signInAs and consent to what was asked.
      const details = await provider.interactionDetails(req, res);
      const grant = new provider.Grant({ accountId: this.signInAs, clientId: String(details.params.client_id) });
      grant.addOIDCScope(String(details.params.scope));
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { login: { accountId: this.signInAs }, consent: { grantId } }, { mergeWithLastSubmission: false });
    };
    // Any failure is a 500, never an unhandled rejection.
    this.#server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      serve(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}

/** Follows a sign-in through the provider's redirects (with its cookies) until it comes back to Patchbay. */
export async function throughProvider(start: string, patchbayOrigin: string): Promise<string> {
  const jar = new Map<string, string>();
  let url = start;
  for (let hop = 0; hop < 10; hop++) {
    if (url.startsWith(patchbayOrigin)) return url;
    const res = await fetch(url, { redirect: "manual", headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") } });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const at = pair!.indexOf("=");
      jar.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
    const location = res.headers.get("location");
    if (!location) throw new Error(`the provider stopped at ${url}: ${res.status} ${(await res.text()).slice(0, 300)}`);
    url = new URL(location, url).toString();
  }
  throw new Error("too many redirects at the provider");
}
