// The baseline of `POST /v1/verify` in `cargo xtask load`: how many times a second Digital Bazaar's
// verifier checks one credential (signature, validity, status list), one after another in one
// process, offline, with the same libraries and loader as verify.mjs.
//
// Usage: node bench.mjs BUNDLE.json SECONDS
// Prints {"verified": bool, "per_second": number, "runs": number}.
import {readFileSync} from 'node:fs';
import {loaderFor, verifyBundle} from './check.mjs';

const [bundlePath, seconds = '5'] = process.argv.slice(2);
if(!bundlePath) {
  console.error('usage: node bench.mjs BUNDLE.json SECONDS');
  process.exit(1);
}
const bundle = JSON.parse(readFileSync(bundlePath, 'utf8'));
const documentLoader = loaderFor(bundle);
const first = await verifyBundle(bundle, documentLoader);
const revoked = (first.statusResult?.results || []).some(r => r.status === true);
// Warm up for a second, then count whole verifications for the time asked.
const until = (ms) => performance.now() + ms;
for(const end = until(1000); performance.now() < end;) {
  await verifyBundle(bundle, documentLoader);
}
let runs = 0;
const start = performance.now();
for(const end = until(Number(seconds) * 1000); performance.now() < end; runs++) {
  await verifyBundle(bundle, documentLoader);
}
const elapsed = (performance.now() - start) / 1000;
console.log(JSON.stringify({
  verified: first.verified === true && !revoked,
  per_second: runs / elapsed,
  runs,
}));
