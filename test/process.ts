// Runs the built bundle (dist/server.js) as a real process, as `npm start` does.
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import SQLite from "better-sqlite3";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BUNDLE = path.join(ROOT, "dist", "server.js");

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  port: number;
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Resolves once /healthz answers 200. */
  ready(timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * A free port below Linux's ephemeral range (32768–60999). A port the kernel hands out for listen(0) comes from that range, and so
 * does the local port of every outgoing connection: a test that restarts a server on its port could find it taken by one of its own
 * outgoing connections meanwhile ("Port … is already in use").
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** Servers started here and not yet exited. */
const live = new Set<ChildProcess>();

/** Kills every server started here that still runs (a run that failed half-way leaves none behind). */
export async function killLiveServers(): Promise<void> {
  const running = [...live].filter((proc) => proc.exitCode === null && proc.signalCode === null);
  await Promise.all(running.map((proc) => new Promise((resolve) => (proc.once("exit", resolve), proc.kill("SIGKILL")))));
}

export async function startServer(
  env: Record<string, string>,
  opts: { uid?: number; args?: string[]; nodeArgs?: string[]; bundle?: string } = {},
): Promise<ServerProcess> {
  const port = Number(env.PORT ?? (await freePort()));
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.bundle ?? BUNDLE, ...(opts.args ?? [])], {
    env: { PATH: process.env.PATH, HOST: "127.0.0.1", PATCHBAY_BASE_URL: url, PORT: String(port), PATCHBAY_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    uid: opts.uid,
    gid: opts.uid,
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => proc.on("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  let done = false;
  live.add(proc);
  void exited.then(() => ((done = true), live.delete(proc)));
  return {
    proc,
    url,
    port,
    output: () => out,
    exited,
    async ready(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (done) throw new Error(`server exited before it was ready:\n${out}`);
        try {
          const res = await fetch(`${url}/healthz`);
          if (res.ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`server not ready after ${timeoutMs} ms:\n${out}`);
    },
    async kill(signal = "SIGTERM") {
      if (!done) proc.kill(signal);
      return exited;
    },
  };
}

/** A cookie-keeping client for a running server, sending Origin like a browser. */
export class HttpSession {
  readonly cookies = new Map<string, string>();
  constructor(readonly url: string) {}

  /** The Cookie header this session sends. */
  get cookie(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  async send(pathname: string, form?: Record<string, string>): Promise<Response> {
    const res = await fetch(this.url + pathname, {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(form ? { origin: this.url, "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      body: form ? new URLSearchParams(form) : undefined,
    });
    for (const set of res.headers.getSetCookie()) {
      const [name, value] = set.split(";")[0]!.split("=");
      if (value) this.cookies.set(name!.trim(), value);
      else this.cookies.delete(name!.trim());
    }
    return res;
  }
}

/** Repositories written straight into a running Patchbay's database, as a source control sync would list them. */
export function seedRepositoriesIn(dataDir: string, names: string[]): void {
  const db = new SQLite(path.join(dataDir, "patchbay.db"), { timeout: 10_000 });
  try {
    const stamp = new Date().toISOString();
    const insert = db.prepare(
      "insert into repositories (integration_id, provider, full_name, url, url_key, created_at, updated_at) values (null, 'github', ?, ?, ?, ?, ?)",
    );
    for (const name of names) insert.run(name, `https://github.com/${name}`, `github.com/${name.toLowerCase()}`, stamp, stamp);
  } finally {
    db.close();
  }
}
