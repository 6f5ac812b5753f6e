import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase, StartupError, type OpenDatabase } from "../../src/db/database.js";
import { Vault, openVault, parseKey } from "../../src/vault.js";
import { TEST_KEY, tempDir } from "../helpers.js";

const opened: OpenDatabase[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

async function fresh() {
  const dir = tempDir();
  const database = await openDatabase(path.join(dir, "patchbay.db"));
  opened.push(database);
  return { dir, db: database.db, keyFile: path.join(dir, "secret.key") };
}

describe("Vault", () => {
  it("round-trips secrets and produces a different ciphertext each time", () => {
    const vault = new Vault(parseKey(TEST_KEY)!);
    const a = vault.sealSecrets({ clientSecret: "s3cr3t-value" });
    const b = vault.sealSecrets({ clientSecret: "s3cr3t-value" });
    expect(a).not.toEqual(b);
    expect(a).not.toContain("s3cr3t");
    expect(vault.openSecrets(a)).toEqual({ clientSecret: "s3cr3t-value" });
  });

  it("rejects a tampered value and a value sealed under another key", () => {
    const vault = new Vault(parseKey(TEST_KEY)!);
    const sealed = vault.encrypt("hello");
    const raw = Buffer.from(sealed.slice(3), "base64");
    raw[15] = raw[15]! ^ 1;
    expect(() => vault.decrypt("v1:" + raw.toString("base64"))).toThrow();
    expect(() => new Vault(parseKey("b".repeat(64))!).decrypt(sealed)).toThrow();
  });

  it("accepts hex and base64 keys and rejects anything else", () => {
    expect(parseKey(TEST_KEY)).toHaveLength(32);
    expect(parseKey(Buffer.alloc(32, 7).toString("base64"))).toHaveLength(32);
    expect(parseKey("too-short")).toBeNull();
    expect(parseKey(Buffer.alloc(16).toString("base64"))).toBeNull();
  });
});

describe("openVault", () => {
  it("generates a key file with 0600 permissions on a fresh install and reuses it", async () => {
    const { db, keyFile } = await fresh();
    const first = await openVault(db, { secretKey: undefined, secretKeyFile: keyFile });
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const sealed = first.encrypt("x-secret");
    const second = await openVault(db, { secretKey: undefined, secretKeyFile: keyFile });
    expect(second.decrypt(sealed)).toBe("x-secret");
  });

  it("refuses to start with a malformed PATCHBAY_SECRET_KEY", async () => {
    const { db, keyFile } = await fresh();
    await expect(openVault(db, { secretKey: "not-a-key", secretKeyFile: keyFile })).rejects.toThrow(/PATCHBAY_SECRET_KEY is not a valid key/);
  });

  it("refuses to start with a different key than the one the database was sealed with", async () => {
    const { db, keyFile } = await fresh();
    await openVault(db, { secretKey: TEST_KEY, secretKeyFile: keyFile });
    const err = await openVault(db, { secretKey: "c".repeat(64), secretKeyFile: keyFile }).catch((e) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect(err.message).toMatch(/not the key this database's credentials were encrypted with/);
  });

  it("refuses to start when the key file went missing but the database holds secrets", async () => {
    const { db, keyFile } = await fresh();
    await openVault(db, { secretKey: undefined, secretKeyFile: keyFile });
    fs.rmSync(keyFile);
    await expect(openVault(db, { secretKey: undefined, secretKeyFile: keyFile })).rejects.toThrow(/key file .* is missing/);
    expect(fs.existsSync(keyFile)).toBe(false);
  });

  it("refuses a corrupted key file", async () => {
    const { db, keyFile } = await fresh();
    fs.writeFileSync(keyFile, "garbage\n");
    await expect(openVault(db, { secretKey: undefined, secretKeyFile: keyFile })).rejects.toThrow(/corrupted/);
  });
});
