// RS256 JSON Web Tokens signed with a service's private key (GitHub App JWTs, Google service
// account assertions).
import crypto from "node:crypto";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";

export function signRs256(claims: object, privateKey: string, header: Record<string, string> = {}): string {
  const encode = (value: object) => encodeBase64urlNoPadding(new TextEncoder().encode(JSON.stringify(value)));
  const unsigned = `${encode({ alg: "RS256", typ: "JWT", ...header })}.${encode(claims)}`;
  const signature = crypto.sign("RSA-SHA256", Buffer.from(unsigned), privateKey);
  return `${unsigned}.${encodeBase64urlNoPadding(signature)}`;
}
