// Amazon ECR's API (api.ecr.<region>.amazonaws.com), JSON protocol: POST / with
// X-Amz-Target AmazonEC2ContainerRegistry_V20150921.<Action> and a SigV4 signature that the
// simulator verifies from the request as received (signed headers, payload hash, scope and a
// 15-minute clock window). Errors are 400 {"__type", "message"} as AWS answers them.
// GetAuthorizationToken hands out "AWS:<password>" for the registry (served by the OCI
// simulator in Basic mode); DescribeRepositories pages with nextToken.
import crypto from "node:crypto";
import { Hono, type Context } from "hono";
import { FaultKnobs } from "./faults.js";

const hmac = (key: Buffer | string, data: string) => crypto.createHmac("sha256", key).update(data).digest();
const hex = (data: string) => crypto.createHash("sha256").update(data).digest("hex");

export class EcrApiSim {
  readonly faults = new FaultKnobs();
  /** access key id → secret, and whether its policy allows ECR reads. */
  readonly keys = new Map<string, { secret: string; allowed: boolean }>();
  repositories: string[] = [];
  /** The registry password GetAuthorizationToken hands out. */
  registryPassword = "ecr-registry-password";
  pageSize = 1000;
  accountId = "123456789012";
  region = "eu-west-1";
  readonly actions: string[] = [];

  #fail(c: Context, type: string, message: string) {
    return c.body(JSON.stringify({ __type: type, message }), 400, { "content-type": "application/x-amz-json-1.1" });
  }

  /** Recomputes the signature over what arrived; returns the failure, or the caller's key. */
  #verify(c: Context, body: string): { error: [string, string] } | { key: string } {
    const auth = c.req.header("authorization") ?? "";
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return { error: ["MissingAuthenticationTokenException", "Missing Authentication Token"] };
    const [, keyId, day, region, service, signedList, signature] = m as unknown as string[];
    const key = this.keys.get(keyId!);
    if (!key) return { error: ["UnrecognizedClientException", "The security token included in the request is invalid."] };
    const date = c.req.header("x-amz-date") ?? "";
    const when = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
    if (!date.startsWith(day!) || Number.isNaN(when) || Math.abs(Date.now() - when) > 15 * 60_000)
      return { error: ["InvalidSignatureException", "Signature expired or the request date is invalid."] };
    const names = signedList!.split(";");
    if (!names.includes("host") || !names.includes("x-amz-date")) return { error: ["InvalidSignatureException", "host and x-amz-date must be signed."] };
    // Behind the test's routing the Host header is the loopback address; the host the client
    // meant (and signed) arrives as X-Forwarded-Host.
    const value = (n: string) => (n === "host" ? (c.req.header("x-forwarded-host") ?? c.req.header("host") ?? "") : (c.req.header(n) ?? "")).trim();
    const canonical = ["POST", "/", "", names.map((n) => `${n}:${value(n)}\n`).join(""), signedList, hex(body)].join("\n");
    const scope = `${day}/${region}/${service}/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${hex(canonical)}`;
    const signingKey = hmac(hmac(hmac(hmac(`AWS4${key.secret}`, day!), region!), service!), "aws4_request");
    const expected = crypto.createHmac("sha256", signingKey).update(toSign).digest("hex");
    if (region !== this.region || service !== "ecr" || !crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature!))) {
      return {
        error: [
          "InvalidSignatureException",
          "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
        ],
      };
    }
    return { key: keyId! };
  }

  app(): Hono {
    const app = new Hono();
    app.use(
      "*",
      this.faults.middleware((status) => JSON.stringify({ __type: "ServerException", message: `simulated ${status}` })),
    );
    app.post("/", async (c) => {
      const body = await c.req.text();
      const verified = this.#verify(c, body);
      if ("error" in verified) return this.#fail(c, ...verified.error);
      if (c.req.header("content-type") !== "application/x-amz-json-1.1")
        return this.#fail(c, "SerializationException", "Content-Type must be application/x-amz-json-1.1");
      const action = (c.req.header("x-amz-target") ?? "").replace(/^AmazonEC2ContainerRegistry_V20150921\./, "");
      this.actions.push(action);
      if (!this.keys.get(verified.key)!.allowed)
        return this.#fail(
          c,
          "AccessDeniedException",
          `User: arn:aws:iam::${this.accountId}:user/patchbay is not authorized to perform: ecr:${action} on resource: *`,
        );
      const input = JSON.parse(body || "{}") as { registryId?: string; registryIds?: string[]; nextToken?: string; maxResults?: number };
      if (action === "GetAuthorizationToken") {
        return c.json({
          authorizationData: [
            {
              authorizationToken: Buffer.from(`AWS:${this.registryPassword}`).toString("base64"),
              expiresAt: Date.now() / 1000 + 43_200,
              proxyEndpoint: `https://${this.accountId}.dkr.ecr.${this.region}.amazonaws.com`,
            },
          ],
        });
      }
      if (action === "DescribeRepositories") {
        if (input.registryId && input.registryId !== this.accountId)
          return this.#fail(c, "RegistryNotFoundException", `The registry with id '${input.registryId}' does not exist`);
        const start = input.nextToken ? Number(Buffer.from(input.nextToken, "base64").toString()) : 0;
        const size = Math.min(this.pageSize, input.maxResults ?? 100);
        const page = this.repositories.slice(start, start + size);
        const next = start + size < this.repositories.length ? Buffer.from(String(start + size)).toString("base64") : undefined;
        return c.json({
          repositories: page.map((name) => ({
            repositoryName: name,
            registryId: this.accountId,
            repositoryArn: `arn:aws:ecr:${this.region}:${this.accountId}:repository/${name}`,
            repositoryUri: `${this.accountId}.dkr.ecr.${this.region}.amazonaws.com/${name}`,
          })),
          ...(next ? { nextToken: next } : {}),
        });
      }
      return this.#fail(c, "UnknownOperationException", `Unknown operation ${action}`);
    });
    return app;
  }
}
