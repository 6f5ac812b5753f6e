// Encryption of stored credentials: AES-256-GCM under one 32-byte key, taken from
// PATCHBAY_SECRET_KEY or from a key file generated once in the data directory.
// A key-check value in the meta table stops Patchbay from starting with the wrong key,
// which would otherwise make every stored credential unreadable.
import { readMeta, writeMeta } from "./db/meta.js";
import crypto from "node:crypto";
import fs from "node:fs";
import { decodeBase64, decodeHex, encodeBase64, encodeHexLowerCase } from "@oslojs/encoding";
import { StartupError } from "./db/database.js";
import type { Db } from "./db/schema.js";
import { registerSecret } from "./log.js";

const VERSION = "v1";
const KEY_CHECK = "vault.key_check";
const KEY_CHECK_PLAINTEXT = "patchbay-key-check";

export type SecretValues = Record<string, string>;

export class Vault {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new Error("The vault key must be 32 bytes.");
    this.#key = Buffer.from(key);
  }

  encrypt(plaintext: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.#key, iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `${VERSION}:${encodeBase64(Buffer.concat([iv, body, cipher.getAuthTag()]))}`;
  }

  /** Throws if the value was not encrypted under this key or was altered. */
  decrypt(sealed: string): string {
    const [version, encoded] = sealed.split(":");
    if (version !== VERSION || !encoded) throw new Error("Unrecognised encrypted value.");
    const raw = Buffer.from(decodeBase64(encoded));
    if (raw.length < 28) throw new Error("Encrypted value is truncated.");
    const decipher = crypto.createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString("utf8");
  }

  /** HMAC-SHA256 of the data under a key derived from the vault key for one purpose (base64url). */
  mac(purpose: string, data: string): string {
    const key = Buffer.from(crypto.hkdfSync("sha256", this.#key, Buffer.alloc(0), `patchbay:${purpose}`, 32));
    return crypto.createHmac("sha256", key).update(data, "utf8").digest("base64url");
  }

  sealSecrets(values: SecretValues): string {
    return this.encrypt(JSON.stringify(values));
  }

  /** Decrypts a secrets object and registers each value with the log redactor. */
  openSecrets(sealed: string | null): SecretValues {
    if (!sealed) return {};
    const values = JSON.parse(this.decrypt(sealed)) as SecretValues;
    for (const v of Object.values(values)) registerSecret(v);
    return values;
  }
}

/** Parses a key given as 64 hex characters or as base64 of 32 bytes. */
export function parseKey(text: string): Uint8Array | null {
  const trimmed = text.trim();
  try {
    if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return decodeHex(trimmed.toLowerCase());
    const bytes = decodeBase64(trimmed);
    return bytes.length === 32 ? bytes : null;
  } catch {
    return null;
  }
}

export interface KeySource {
  secretKey: string | undefined;
  secretKeyFile: string;
}

/** Loads (or on a fresh install creates) the key, and proves it opens this database's secrets. */
export async function openVault(db: Db, source: KeySource): Promise<Vault> {
  const check = await readMeta(db, KEY_CHECK);
  const vault = new Vault(loadKey(source, check !== undefined));
  if (!check) {
    await writeMeta(db, KEY_CHECK, vault.encrypt(KEY_CHECK_PLAINTEXT));
    return vault;
  }
  let matches = false;
  try {
    matches = vault.decrypt(check) === KEY_CHECK_PLAINTEXT;
  } catch {
    matches = false;
  }
  if (!matches) {
    const where = source.secretKey ? "PATCHBAY_SECRET_KEY" : `the key file ${source.secretKeyFile}`;
    throw new StartupError(
      `${where} is not the key this database's credentials were encrypted with, so they cannot be decrypted. ` +
        `Restore the original key and start again; Patchbay refuses to start rather than lose the stored credentials.`,
    );
  }
  return vault;
}

function loadKey(source: KeySource, databaseHasSecrets: boolean): Uint8Array {
  if (source.secretKey !== undefined) {
    const key = parseKey(source.secretKey);
    if (!key) {
      throw new StartupError(
        "PATCHBAY_SECRET_KEY is not a valid key: it must be 32 random bytes written as 64 hex characters or as base64 " +
          "(for example the output of `openssl rand -hex 32`).",
      );
    }
    return key;
  }
  if (fs.existsSync(source.secretKeyFile)) {
    const key = parseKey(fs.readFileSync(source.secretKeyFile, "utf8"));
    if (!key) {
      throw new StartupError(`The key file ${source.secretKeyFile} is corrupted (it must hold 64 hex characters). Restore it from your backup.`);
    }
    return key;
  }
  if (databaseHasSecrets) {
    throw new StartupError(
      `The key file ${source.secretKeyFile} is missing, but this database holds credentials encrypted with it. ` +
        `Restore the key file (or set PATCHBAY_SECRET_KEY to its contents) and start again.`,
    );
  }
  const key = crypto.randomBytes(32);
  fs.writeFileSync(source.secretKeyFile, encodeHexLowerCase(key) + "\n", { mode: 0o600, flag: "wx" });
  return key;
}
