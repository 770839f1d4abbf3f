// The pacing job through Intercom's official Node SDK (intercom-client 7.0.3, pinned exactly:
// 7.0.4 was malicious): N contact upserts (create; update on 409) by a fixed pool of concurrent
// workers, with the SDK's default retries (it has no proactive pacing). Prints the same line as
// `switchboard bench pacing`:
//
//   pacing-node: allowed_per_s=… achieved_per_s=… ratio=… rate_limited=… failed=…
//
// Usage: node pacing.mjs --base-url URL --token T [--contacts N] [--limit-per-minute L] [--budget-fraction F]

import { IntercomClient, IntercomError } from "intercom-client";

const WORKERS = 32; // the same pool size as the Rust benchmark

function parseArgs(argv) {
  const args = { contacts: 10000, limitPerMinute: 10000, budgetFraction: 1.0, baseUrl: null, token: null };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`missing value for ${flag}`);
    switch (flag) {
      case "--contacts": args.contacts = Number(value); break;
      case "--limit-per-minute": args.limitPerMinute = Number(value); break;
      case "--budget-fraction": args.budgetFraction = Number(value); break;
      case "--base-url": args.baseUrl = value; break;
      case "--token": args.token = value; break;
      default: throw new Error(`unknown flag ${flag}`);
    }
  }
  if (!args.baseUrl || !args.token) throw new Error("--base-url and --token are required");
  return args;
}

const args = parseArgs(process.argv.slice(2));

// Count 429 answers as the Rust client does: every one the HTTP layer sees, retried or not.
// The SDK resolves the global fetch at call time, so wrapping it here sees every attempt.
let rateLimited = 0;
let requests = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = async (...params) => {
  requests += 1;
  const response = await realFetch(...params);
  if (response.status === 429) rateLimited += 1;
  return response;
};

const client = new IntercomClient({ token: args.token, baseUrl: args.baseUrl });
const runId = Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, "0");

async function upsert(n) {
  const externalId = `pacing-node-${runId}-${String(n).padStart(6, "0")}`;
  const body = { role: "user", external_id: externalId, email: `${externalId}@example.com`, name: `Pacing ${n}` };
  try {
    await client.contacts.create(body);
  } catch (e) {
    const existing = e instanceof IntercomError && e.statusCode === 409
      ? /id=([A-Za-z0-9]+)/.exec(JSON.stringify(e.body ?? ""))?.[1]
      : undefined;
    if (!existing) throw e;
    await client.contacts.update({ contact_id: existing, name: body.name });
  }
}

let next = 0;
let ok = 0;
let failed = 0;
const started = process.hrtime.bigint();
await Promise.all(Array.from({ length: Math.min(WORKERS, args.contacts) }, async () => {
  for (;;) {
    const n = next++;
    if (n >= args.contacts) return;
    try {
      await upsert(n);
      ok += 1;
    } catch {
      failed += 1;
    }
  }
}));
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
const allowed = (args.limitPerMinute * args.budgetFraction) / 60;
const achieved = ok / elapsed;
console.log(
  `pacing-node: allowed_per_s=${allowed.toFixed(2)} achieved_per_s=${achieved.toFixed(2)} ` +
  `ratio=${(achieved / allowed).toFixed(3)} rate_limited=${rateLimited} failed=${failed}`,
);
console.error(`node: ${ok} upserts, ${requests} requests in ${elapsed.toFixed(1)} s`);
