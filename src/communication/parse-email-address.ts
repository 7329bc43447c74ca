import addressparser from 'nodemailer/lib/addressparser';
import { ValidationError } from '../core/validation-error.js';
import type { EmailAddress, EmailAddressInput } from './types.js';

const LOCAL = /^[^\s@<>()[\]\\,;:"]{1,64}$/u;
const LABEL = /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u;
const CONTROL = /[\r\n\0]/;

/**
 * Validates one address with nodemailer's own address parser (the one that builds the SMTP
 * envelope), so what we check is what gets delivered to. A string must hold exactly one mailbox;
 * CR, LF and NUL anywhere are refused.
 *
 * @param field - names the input in errors, e.g. `to[2]`.
 * @throws ValidationError naming `field`.
 * @example
 * ```ts
 * parseEmailAddress('Ada Lovelace <ada@example.com>', 'to'); // { name: 'Ada Lovelace', address: 'ada@example.com' }
 * ```
 */
export function parseEmailAddress(input: EmailAddressInput, field: string): EmailAddress {
  let name = '';
  let raw: string;
  if (typeof input === 'string') {
    raw = input;
  } else if (typeof input === 'object' && input !== null && typeof input.address === 'string') {
    if (input.name !== undefined && typeof input.name !== 'string') throw new ValidationError(`${field}.name`, 'must be a string');
    name = input.name ?? '';
    if (CONTROL.test(name)) throw new ValidationError(`${field}.name`, 'must not contain CR, LF or NUL');
    raw = input.address;
  } else {
    throw new ValidationError(field, 'must be an address string or { name, address }');
  }
  if (CONTROL.test(raw)) throw new ValidationError(field, 'must not contain CR, LF or NUL');
  if (raw.length > 998) throw new ValidationError(field, 'is too long');
  const parsed = addressparser(raw, { flatten: true });
  const only = parsed[0];
  if (parsed.length !== 1 || only === undefined) throw new ValidationError(field, 'must hold exactly one address');
  if (typeof input !== 'string' && only.name !== '') throw new ValidationError(`${field}.address`, 'must be a bare address');
  const address = only.address.trim();
  if (!isValidAddress(address)) throw new ValidationError(field, 'is not a valid email address');
  return { name: name === '' ? only.name : name, address };
}

/**
 * Validates an address list (a single input or an array) with {@link parseEmailAddress}.
 *
 * @example
 * ```ts
 * parseEmailAddressList(['a@example.com', { address: 'b@example.com' }], 'to'); // two addresses
 * ```
 */
export function parseEmailAddressList(
  input: EmailAddressInput | readonly EmailAddressInput[] | undefined,
  field: string,
): EmailAddress[] {
  if (input === undefined) return [];
  const list: readonly EmailAddressInput[] = Array.isArray(input) ? input : [input as EmailAddressInput];
  if (list.length > 1000) throw new ValidationError(field, 'must hold at most 1000 addresses');
  return list.map((item, index) => parseEmailAddress(item, `${field}[${index}]`));
}

function isValidAddress(address: string): boolean {
  const at = address.lastIndexOf('@');
  if (at <= 0 || address.length > 254) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  const labels = domain.split('.');
  return labels.length >= 2 && labels.every((label) => LABEL.test(label));
}

/** The lower-cased domain of a validated address. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
