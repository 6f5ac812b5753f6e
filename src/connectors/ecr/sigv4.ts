// AWS Signature Version 4 for JSON-protocol API calls (a POST to "/" with X-Amz-Target): the
// canonical request, the string to sign, the derived signing key, and the Authorization header.
import { createHash, createHmac } from "node:crypto";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const sha256 = (data: string) => createHash("sha256").update(data, "utf8").digest("hex");
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** "20261123T101500Z" */
export function amzDate(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/**
 * The headers that sign a POST of `body` to https://`host`/ for `service` in `region`: every
 * header given is signed (lower-cased, sorted), plus host, x-amz-date and the session token.
 */
export function signedHeaders(
  opts: { host: string; region: string; service: string; body: string; headers: Record<string, string>; now: Date },
  credentials: AwsCredentials,
): Record<string, string> {
  const stamp = amzDate(opts.now);
  const day = stamp.slice(0, 8);
  const headers: Record<string, string> = {
    ...Object.fromEntries(Object.entries(opts.headers).map(([k, v]) => [k.toLowerCase(), v])),
    host: opts.host,
    "x-amz-date": stamp,
  };
  if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, " ")}\n`).join("");
  const signed = names.join(";");
  const canonicalRequest = ["POST", "/", "", canonicalHeaders, signed, sha256(opts.body)].join("\n");
  const scope = `${day}/${opts.region}/${opts.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", stamp, scope, sha256(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), opts.region), opts.service), "aws4_request");
  const signature = createHmac("sha256", key).update(stringToSign, "utf8").digest("hex");
  const { host: _host, ...rest } = headers;
  return { ...rest, authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}` };
}
