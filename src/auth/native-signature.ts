import {
  constants,
  createHmac,
  createPublicKey,
  createSecretKey,
  type JsonWebKey,
  KeyObject,
  type VerifyKeyObjectInput,
  timingSafeEqual,
  verify as cryptoVerify,
} from 'node:crypto';
import type { CryptoKey, JWK } from 'jose';
import { ValidationError } from '../core/index.js';

const HASH: Readonly<Record<string, string>> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };
const CURVE: Readonly<Record<string, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };
const EC_SIGNATURE_BYTES: Readonly<Record<string, number>> = { ES256: 64, ES384: 96, ES512: 132 };

/**
 * A static key checked once against its algorithm and verified with synchronous `node:crypto`
 * (the fast-jwt approach): no WebCrypto round trip per token, so static-key verification costs
 * less than jose's. The key type must match the algorithm family (HS ↔ secret, RS/PS ↔ RSA,
 * ES ↔ the algorithm's curve, EdDSA ↔ Ed25519), so no key can be used under another algorithm.
 *
 * @example
 * ```ts
 * const verifier = NativeSignature.create('RS256', publicPem, 'userTokens.publicKey');
 * verifier.verify('header.payload', signatureBytes); // boolean
 * ```
 */
export class NativeSignature {
  private constructor(
    readonly alg: string,
    private readonly key: KeyObject,
  ) {}

  /** Imports `input` for `alg`; throws {@link ValidationError} naming `field` on a mismatch. */
  static create(alg: string, input: string | Uint8Array | JWK | KeyObject | CryptoKey, field: string): NativeSignature {
    let key: KeyObject;
    try {
      if (alg.startsWith('HS')) {
        key = input instanceof KeyObject ? input : createSecretKey(input as Uint8Array);
      } else if (input instanceof KeyObject) {
        key = input;
      } else if (typeof input === 'string') {
        key = createPublicKey(input);
      } else if (isCryptoKey(input)) {
        key = KeyObject.from(input);
      } else {
        key = createPublicKey({ key: input as JsonWebKey, format: 'jwk' });
      }
    } catch (cause) {
      throw new ValidationError(field, `could not be imported for ${alg}`, { cause });
    }
    if (key.type === 'private') key = createPublicKey(key);
    checkKeyType(alg, key, field);
    return new NativeSignature(alg, key);
  }

  /** Whether this verifies with `key` (a public key, or the same secret). */
  matches(key: KeyObject): boolean {
    return this.key.equals(key);
  }

  /**
   * Whether `signature` is valid for `signingInput` (the `header.payload` text). HMAC and RSA
   * answer synchronously (cheaper than a thread-pool hop); EC and EdDSA, whose verification costs
   * more, run on libuv's thread pool so the event loop stays free and both cores are used.
   * `signingInput` may be given as its bytes, so several keys can check one token without
   * converting it again.
   */
  verify(signingInput: string | Buffer, signature: Buffer): boolean | Promise<boolean> {
    const { alg, key } = this;
    const family = alg.slice(0, 2);
    const hash = HASH[alg.slice(2)] ?? null;
    const data = typeof signingInput === 'string' ? Buffer.from(signingInput, 'latin1') : signingInput;
    switch (family) {
      case 'HS': {
        const expected = createHmac(hash ?? 'sha256', key).update(data).digest();
        return expected.length === signature.length && timingSafeEqual(expected, signature);
      }
      case 'RS':
        return cryptoVerify(hash, data, key, signature);
      case 'PS':
        return cryptoVerify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
      case 'ES':
        if (signature.length !== EC_SIGNATURE_BYTES[alg]) return false;
        return verifyOffThread(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
      default:
        return verifyOffThread(null, data, key, signature); // EdDSA / Ed25519
    }
  }
}

function verifyOffThread(hash: string | null, data: Buffer, key: KeyObject | VerifyKeyObjectInput, signature: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    cryptoVerify(hash, data, key, signature, (error, valid) => {
      resolve(error === null && valid);
    });
  });
}

function isCryptoKey(value: unknown): value is CryptoKey {
  return typeof value === 'object' && value !== null && (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'CryptoKey';
}

function checkKeyType(alg: string, key: KeyObject, field: string): void {
  const family = alg.slice(0, 2);
  const type = key.asymmetricKeyType;
  let ok: boolean;
  if (family === 'HS') ok = key.type === 'secret';
  else if (family === 'RS') ok = type === 'rsa';
  else if (family === 'PS') ok = type === 'rsa' || type === 'rsa-pss';
  else if (family === 'ES') ok = type === 'ec' && key.asymmetricKeyDetails?.namedCurve === CURVE[alg];
  else ok = type === 'ed25519';
  if (!ok) throw new ValidationError(field, `is not a key for ${alg}`);
  if ((family === 'RS' || family === 'PS') && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new ValidationError(field, 'must be an RSA key of at least 2048 bits');
  }
}
