// Configuration from the environment: secrets may come from files (Docker and Kubernetes
// secrets mount them), and a mistake in either form is said plainly.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { tempDir } from "../helpers.js";

const KEY = "a".repeat(64);

describe("secrets from files", () => {
  it("reads PATCHBAY_SECRET_KEY_FILE (one trailing newline dropped), and refuses both forms at once, an unreadable file and an empty one", () => {
    const dir = tempDir();
    const file = path.join(dir, "key");
    fs.writeFileSync(file, `${KEY}\n`);
    expect(loadConfig({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY_FILE: file }).secretKey).toBe(KEY);
    expect(loadConfig({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: KEY }).secretKey).toBe(KEY);
    expect(() => loadConfig({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: KEY, PATCHBAY_SECRET_KEY_FILE: file })).toThrow(
      new ConfigError("Set PATCHBAY_SECRET_KEY or PATCHBAY_SECRET_KEY_FILE, not both."),
    );
    expect(() => loadConfig({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY_FILE: path.join(dir, "missing") })).toThrow(
      /cannot be read \(ENOENT\): check the path/,
    );
    fs.writeFileSync(file, "\n");
    expect(() => loadConfig({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY_FILE: file })).toThrow(/which is empty/);
  });

  it("reads DATABASE_URL_FILE (the URL holds the database password), which needs the shared key as DATABASE_URL does", () => {
    const dir = tempDir();
    const file = path.join(dir, "database_url");
    fs.writeFileSync(file, "postgres://patchbay:s3cret@db:5432/patchbay\n");
    expect(loadConfig({ PATCHBAY_DATA_DIR: dir, DATABASE_URL_FILE: file, PATCHBAY_SECRET_KEY: KEY }).databaseUrl).toBe(
      "postgres://patchbay:s3cret@db:5432/patchbay",
    );
    expect(() => loadConfig({ PATCHBAY_DATA_DIR: dir, DATABASE_URL_FILE: file })).toThrow(
      /PATCHBAY_SECRET_KEY \(or PATCHBAY_SECRET_KEY_FILE\) is required with PostgreSQL/,
    );
    expect(() => loadConfig({ PATCHBAY_DATA_DIR: dir, DATABASE_URL_FILE: file, DATABASE_URL: "postgres://x@y/z", PATCHBAY_SECRET_KEY: KEY })).toThrow(
      new ConfigError("Set DATABASE_URL or DATABASE_URL_FILE, not both."),
    );
  });
});

describe("single sign-on from the environment", () => {
  const base = { PATCHBAY_OIDC_ISSUER: "https://login.acme.example/realms/staff", PATCHBAY_OIDC_CLIENT_ID: "patchbay" };

  it("reads the provider, the client secret from a file, the defaults and the break-glass administrator", () => {
    const dir = tempDir();
    const file = path.join(dir, "oidc-secret");
    fs.writeFileSync(file, "from-a-file\n");
    const config = loadConfig({
      PATCHBAY_DATA_DIR: dir,
      ...base,
      PATCHBAY_OIDC_CLIENT_SECRET_FILE: file,
      PATCHBAY_OIDC_SCOPES: "groups profile openid",
      PATCHBAY_LOCAL_SIGN_IN: "break-glass:admin",
    });
    expect(config.signIn).toEqual({
      oidc: {
        issuer: base.PATCHBAY_OIDC_ISSUER,
        clientId: "patchbay",
        clientSecret: "from-a-file",
        name: "single sign-on",
        scopes: "openid groups profile",
        usernameClaim: "preferred_username",
        groupsClaim: "groups",
        adminGroup: "",
        memberGroup: "",
      },
      localSignIn: "break-glass",
      breakGlassUser: "admin",
    });
  });

  it("says what is missing or wrong", () => {
    const dir = tempDir();
    expect(() => loadConfig({ PATCHBAY_DATA_DIR: dir, ...base })).toThrow(/PATCHBAY_OIDC_CLIENT_SECRET \(or PATCHBAY_OIDC_CLIENT_SECRET_FILE\) is needed/);
    expect(() =>
      loadConfig({ PATCHBAY_DATA_DIR: dir, PATCHBAY_OIDC_ISSUER: "http://login.acme.example", PATCHBAY_OIDC_CLIENT_ID: "x", PATCHBAY_OIDC_CLIENT_SECRET: "y" }),
    ).toThrow("PATCHBAY_OIDC_ISSUER: The issuer must be an https:// address (http only on this machine).");
    expect(() => loadConfig({ PATCHBAY_DATA_DIR: dir, ...base, PATCHBAY_OIDC_CLIENT_SECRET: "y", PATCHBAY_LOCAL_SIGN_IN: "off" })).toThrow(
      /PATCHBAY_LOCAL_SIGN_IN is "all" or "break-glass:USERNAME"/,
    );
    expect(() => loadConfig({ PATCHBAY_DATA_DIR: dir, PATCHBAY_LOCAL_SIGN_IN: "all" })).toThrow(/applies with single sign-on/);
  });
});
