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
});
