/** Small readers of untrusted JSON values: nothing a response holds makes them throw or reach Object.prototype. */
import { describe } from '../../errors.js';
import type { RejectedRecord } from '../../model/index.js';

/** Longest `raw` text kept for a rejected record. */
export const RAW_LIMIT = 2000;

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Yahoo collections are objects with numeric keys, or `[]` when empty. */
export function isCollection(value: unknown): value is JsonObject | unknown[] {
  return typeof value === 'object' && value !== null;
}

/** An own property only: a key such as `constructor` must not reach Object.prototype. */
export function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key)
    ? (value as JsonObject)[key]
    : undefined;
}

/**
 * The entries of a collection under its numeric keys, in numeric order. `count` is not
 * trusted: edited responses have gaps (keys 0, 1, 4, 7) and no `count`.
 */
export function collectionEntries(collection: unknown): Array<[string, unknown]> {
  if (typeof collection !== 'object' || collection === null) return [];
  return Object.keys(collection)
    .filter((key) => /^(?:0|[1-9][0-9]*)$/.test(key))
    .sort((a, b) => Number(a) - Number(b))
    .map((key): [string, unknown] => [key, (collection as JsonObject)[key]]);
}

/**
 * Yahoo renders some metadata as a list of single-key objects with `[]` placeholders
 * (`[{"player_key": …}, {"player_id": …}, [], …]`): merge the objects, skip the rest.
 * A plain object is returned as it is. `fromEntries` keeps a `__proto__` key an own field.
 */
export function mergeFields(value: unknown): JsonObject {
  if (isObject(value)) return value;
  if (!Array.isArray(value)) return {};
  return Object.fromEntries(value.filter(isObject).flatMap((part) => Object.entries(part)));
}

export function nonEmptyString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Ids are strings on the wire; a number is accepted too. */
export function idString(value: unknown): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return nonEmptyString(value);
}

/** Yahoo sends `""` or leaves a field out for "none". */
export function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/** Numbers come as strings (`"1612686201"`): a whole number, null when absent, or 'invalid'. */
export function optionalWholeNumber(value: unknown): number | null | 'invalid' {
  if (!present(value)) return null;
  const number = typeof value === 'string' && /^[0-9]{1,16}$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) && number >= 0 ? number : 'invalid';
}

export function reject(value: unknown, reason: string): RejectedRecord {
  return { raw: rawText(value), reason };
}

/** JSON text of what was rejected, cut to `RAW_LIMIT`; never throws, even on a value JSON cannot hold. */
function rawText(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.slice(0, RAW_LIMIT);
}

/** A short rendering of a value for a reason text; `describe` itself can throw on a value with no prototype. */
export function shown(value: unknown): string {
  try {
    return describe(value);
  } catch {
    return `a value of type ${typeof value}`;
  }
}

/** The value of the first element after the metadata that holds `name`. */
export function subResource(resource: readonly unknown[], name: string): unknown {
  for (const element of resource.slice(1)) {
    const value = field(element, name);
    if (value !== undefined) return value;
  }
  return undefined;
}
