// Argument checks and the value encoding every Grid implementation shares, so the in-process grid
// refuses exactly what a remote one could not store faithfully. Messages never quote keys or
// values: keys may be derived from codes or tokens.

// With the u flag a well-formed surrogate pair is one code point, so only lone surrogates match.
const LONE_SURROGATE = /\p{Cs}/u;

export function assertMapName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('grid map name must be a non-empty string');
  if (LONE_SURROGATE.test(name)) throw new TypeError('grid map name must be well-formed UTF-16');
}

export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('grid key must be a non-empty string');
  if (LONE_SURROGATE.test(key)) throw new TypeError('grid key must be well-formed UTF-16');
}

/** Checks a TTL in milliseconds; undefined passes unless `required`. */
export function assertTtl(ttlMs: unknown, required: boolean): asserts ttlMs is number | undefined {
  if (ttlMs === undefined && !required) return;
  if (typeof ttlMs !== 'number') throw new TypeError(`grid TTL must be a number of milliseconds${required ? '' : ' or undefined'}`);
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError('grid TTL must be a positive integer number of milliseconds');
}

/** The stored form of a value: its JSON text, after checking the value survives the round trip. */
export function encodeValue(value: unknown): string {
  checkJson(value, '$', new Set());
  return JSON.stringify(value);
}

export function decodeValue<V>(json: string): V {
  return JSON.parse(json) as V;
}

function checkJson(value: unknown, path: string, ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      // JSON.stringify would silently turn these into null.
      if (!Number.isFinite(value)) throw new TypeError(`grid value at ${path} is not a finite number`);
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`grid value at ${path} is ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}, not JSON data`);
  }
  if (value === null) return;
  if (ancestors.has(value)) throw new TypeError(`grid value at ${path} is cyclic`);
  ancestors.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      // JSON.stringify would turn undefined (or a hole) into null and change the array's meaning.
      if (value[i] === undefined) throw new TypeError(`grid value at ${path}[${i}] is undefined, not JSON data`);
      checkJson(value[i], `${path}[${i}]`, ancestors);
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    // Dates, Maps, typed arrays and class instances would come back as strings or bare objects.
    if (proto !== Object.prototype && proto !== null) throw new TypeError(`grid value at ${path} is not a plain object`);
    for (const [name, item] of Object.entries(value)) {
      // Optional properties left undefined are common in TS; JSON drops them, and so do we.
      if (item !== undefined) checkJson(item, `${path}.${name}`, ancestors);
    }
  }
  ancestors.delete(value);
}
