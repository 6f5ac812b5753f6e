// A load generator run as its own process (so its work does not share Patchbay's event loop):
// CONCURRENCY signed-in users, each with its own session, browsing and filtering for
// DURATION_MS (or until SIGTERM); prints one JSON line with the latency percentiles and every non-2xx answer.
// Usage: node load-client.mjs <base url> <duration ms> <concurrency> <username> <password>
const [base, durationArg, concurrencyArg, username, password] = process.argv.slice(2);
const duration = Number(durationArg);
const concurrency = Number(concurrencyArg);

const PATHS = [
  "/vulnerabilities",
  "/vulnerabilities?severity=critical&severity=high",
  "/vulnerabilities?q=lodash&sort=cvss&dir=desc",
  "/vulnerabilities?status=all&sort=first_detected_at",
  "/vulnerabilities?scanner=1&status=all",
  "/integrations",
  "/repositories",
  "/jobs",
  "/trackers",
  "/images",
];

// Sign-ins from one address are throttled while in flight (20 at once): a refused one waits as told and tries again.
async function signIn() {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${base}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: base },
      body: new URLSearchParams({ username, password }),
    });
    if (res.status === 429 && attempt < 10) {
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 1000 * Math.min(5, Number(res.headers.get("retry-after")) || 1)));
      continue;
    }
    const cookie = (res.headers.getSetCookie?.() ?? []).map((c) => c.split(";")[0]).join("; ");
    if (res.status !== 303 || !cookie) throw new Error(`sign-in failed: ${res.status}`);
    return cookie;
  }
}

const latencies = [];
/** Each page's latencies: which page a tail comes from. */
const byPath = {};
const failures = {};
let requests = 0;
const started = Date.now();
let deadline = started + duration;
// Stopped early (SIGTERM: the work it measures has ended): each user ends its request, then the figures are printed.
process.on("SIGTERM", () => (deadline = 0));
async function user(n) {
  const cookie = await signIn();
  let i = n;
  while (Date.now() < deadline) {
    const path = PATHS[i++ % PATHS.length];
    const started = performance.now();
    try {
      const res = await fetch(base + path, { headers: { cookie }, redirect: "manual" });
      await res.arrayBuffer();
      const ms = performance.now() - started;
      latencies.push(ms);
      (byPath[path] ??= []).push(ms);
      requests++;
      if (res.status >= 400 || (res.status >= 300 && !path.startsWith("/vulnerabilities/")))
        failures[`${res.status} ${path}`] = (failures[`${res.status} ${path}`] ?? 0) + 1;
    } catch (err) {
      failures[`${err.cause?.code ?? err.message} ${path}`] = (failures[`${err.cause?.code ?? err.message} ${path}`] ?? 0) + 1;
    }
  }
}
// Sign-ins are spread out a little: Argon2id is deliberately slow.
await Promise.all(Array.from({ length: concurrency }, (_, n) => new Promise((r) => setTimeout(r, n * 40)).then(() => user(n))));
latencies.sort((a, b) => a - b);
const pctOf = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const pct = (p) => pctOf(latencies, p);
const pages = Object.fromEntries(
  Object.entries(byPath).map(([path, list]) => {
    list.sort((a, b) => a - b);
    return [path, { requests: list.length, p50: Math.round(pctOf(list, 50)), p95: Math.round(pctOf(list, 95)) }];
  }),
);
process.stdout.write(
  JSON.stringify({ requests, seconds: (Date.now() - started) / 1000, p50: pct(50), p95: pct(95), p99: pct(99), max: latencies.at(-1) ?? 0, failures, pages }) +
    "\n",
);
