// Verifies a credential produced by the registry with libraries the registry did not write:
// @digitalbazaar/vc (W3C VC 2.0), @digitalbazaar/data-integrity with the eddsa-jcs-2022
// cryptosuite, @digitalbazaar/vc-bitstring-status-list, and jsonld (safe-mode expansion).
// Offline: every JSON-LD context comes from an npm package; the DID document and the status
// list come from the bundle given on the command line.
//
// Usage: node verify.mjs BUNDLE.json
//   BUNDLE = {"credential": {...}, "did_document": {...}, "status_list": {...}?, "now": "..."?}
//   (`now`: check the credential and the status list as of that time rather than the clock)
// Prints {"verified": bool, "expanded": {...}, "error": "..."} and exits 0 (1 on bad usage).
import {readFileSync} from 'node:fs';
import jsonld from 'jsonld';
import {loaderFor, verifyBundle} from './check.mjs';

const [bundlePath] = process.argv.slice(2);
if(!bundlePath) {
  console.error('usage: node verify.mjs BUNDLE.json');
  process.exit(1);
}
const bundle = JSON.parse(readFileSync(bundlePath, 'utf8'));
const {credential, status_list: statusList} = bundle;

const documentLoader = loaderFor(bundle);

async function expandSafely(document) {
  try {
    await jsonld.expand(document, {documentLoader, safe: true});
    return true;
  } catch(e) {
    return `${e.name}: ${e.message} ${JSON.stringify(e.details || {}).slice(0, 400)}`;
  }
}

const expanded = {credential: await expandSafely(credential)};
if(statusList) {
  expanded.status_list = await expandSafely(statusList);
}
const result = await verifyBundle(bundle, documentLoader);
const describe = e => e && (e.errors ? e.errors.map(describe).join('; ') : `${e.name}: ${e.message}`);
const errors = [];
if(result.error) errors.push(describe(result.error));
for(const r of result.results || []) if(!r.verified && r.error) errors.push(describe(r.error));
if(result.statusResult && !result.statusResult.verified) {
  errors.push(`status: ${describe(result.statusResult.error) || 'revoked'}`);
}
// The status check "verifies" when the list itself is sound; its `status` is true when the
// credential's bit is set, that is, when the credential is revoked.
const revoked = (result.statusResult?.results || []).some(r => r.status === true);
if(revoked) errors.push('status: the credential is revoked');
console.log(JSON.stringify({
  verified: result.verified === true && !revoked,
  status_verified: result.statusResult ? result.statusResult.verified === true : null,
  revoked,
  expanded,
  error: errors.join(' | ') || undefined,
}));
