// Protobuf side of the fuzz suites: every RPC of the descriptor set buf builds
// (build/descriptor.binpb), random well-typed request messages for each, and byte-level mutations
// of their encodings. Enumerating from the descriptor set means a new RPC is fuzzed automatically.
import { readFileSync } from 'node:fs';
import { create, createFileRegistry, ScalarType, toBinary, toJson, type DescField, type DescMessage, type DescMethod, type DescService, type FileRegistry } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { fromBinary } from '@bufbuild/protobuf';
import { descriptorSetPath } from '../../services/core/rpc/paths.js';
import { INTERESTING_VALUES, type Rng } from './prng.js';

let registry: FileRegistry | undefined;

/** The registry of every file in build/descriptor.binpb (authmesh, googleapis, Envoy ext_authz, WKTs). */
export function descriptorRegistry(): FileRegistry {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath())));
  return registry;
}

/** Every service of the descriptor set whose full name starts with one of the prefixes. */
export function servicesOf(prefixes: readonly string[]): DescService[] {
  const out: DescService[] = [];
  for (const type of descriptorRegistry()) {
    if (type.kind === 'service' && prefixes.some((p) => type.typeName.startsWith(p))) out.push(type);
  }
  return out.sort((a, b) => a.typeName.localeCompare(b.typeName));
}

/** The HTTP/2 path of a method: /package.Service/Method. */
export const methodPath = (m: DescMethod): string => `/${m.parent.typeName}/${m.name}`;

/** Values a caller could plausibly put in a string field, with secrets and ids it knows mixed in. */
export interface StringPool {
  /** Strings that should be used sometimes (client ids, tokens, canaries). */
  known: readonly string[];
}

function randomScalar(rng: Rng, type: ScalarType, pool: StringPool): unknown {
  switch (type) {
    case ScalarType.STRING:
      if (pool.known.length > 0 && rng.chance(0.3)) return rng.pick(pool.known);
      return rng.chance(0.3) ? rng.pick(INTERESTING_VALUES) : rng.text(40);
    case ScalarType.BYTES:
      return new Uint8Array(rng.bytes(rng.int(48)));
    case ScalarType.BOOL:
      return rng.chance(0.5);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return rng.pick([0, -1, 1.5, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, rng.next() * 1e6]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return rng.pick([0n, -1n, 1n, 9223372036854775807n, -9223372036854775808n, BigInt(rng.u32())]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return rng.pick([0n, 1n, 18446744073709551615n, BigInt(rng.u32())]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return rng.pick([0, 1, 4294967295, rng.u32()]);
    default:
      return rng.pick([0, -1, 1, 2147483647, -2147483648, rng.int(1000)]);
  }
}

function randomEnum(rng: Rng, field: DescField & { enum: { values: { number: number }[] } }): number {
  // Mostly declared values, sometimes a number no version of the contract declares.
  return rng.chance(0.85) ? rng.pick(field.enum.values).number : rng.pick([-1, 99, 2147483647]);
}

function fill(rng: Rng, msg: ReflectMessage, depth: number, pool: StringPool): void {
  const seenOneofs = new Set<string>();
  for (const field of msg.fields) {
    if (field.oneof !== undefined) {
      if (seenOneofs.has(field.oneof.name)) continue;
      seenOneofs.add(field.oneof.name);
      // Set one member of the oneof (the realistic shape), or none.
      if (rng.chance(0.15)) continue;
      const member = rng.pick(field.oneof.fields);
      setField(rng, msg, member, depth, pool);
      continue;
    }
    // Mostly set: a message with every field present reaches the most code.
    if (rng.chance(0.2)) continue;
    setField(rng, msg, field, depth, pool);
  }
}

function newMessage(rng: Rng, desc: DescMessage, depth: number, pool: StringPool): ReflectMessage {
  const r = reflect(desc, create(desc));
  if (depth < 4) fill(rng, r, depth + 1, pool);
  return r;
}

function setField(rng: Rng, msg: ReflectMessage, field: DescField, depth: number, pool: StringPool): void {
  try {
    switch (field.fieldKind) {
      case 'scalar':
        msg.set(field, randomScalar(rng, field.scalar, pool));
        return;
      case 'enum':
        msg.set(field, randomEnum(rng, field));
        return;
      case 'message':
        if (depth >= 4) return;
        msg.set(field, newMessage(rng, field.message, depth, pool));
        return;
      case 'list': {
        const list = msg.get(field);
        const n = rng.int(4);
        for (let i = 0; i < n; i++) {
          if (field.listKind === 'scalar') list.add(randomScalar(rng, field.scalar, pool));
          else if (field.listKind === 'enum') list.add(rng.pick(field.enum.values).number);
          else if (depth < 4) list.add(newMessage(rng, field.message, depth, pool));
        }
        return;
      }
      case 'map': {
        const map = msg.get(field);
        const n = rng.int(3);
        for (let i = 0; i < n; i++) {
          const key = randomScalar(rng, field.mapKey, pool);
          if (field.mapKind === 'scalar') map.set(key, randomScalar(rng, field.scalar, pool));
          else if (field.mapKind === 'enum') map.set(key, rng.pick(field.enum.values).number);
          else if (depth < 4) map.set(key, newMessage(rng, field.message, depth, pool));
        }
        return;
      }
    }
  } catch {
    // A value the runtime refuses for this field (e.g. a map key type): leave the field unset.
  }
}

/** A random, well-typed request message of `desc`: what a confused but honest caller sends. */
export function randomMessage(rng: Rng, desc: DescMessage, pool: StringPool): ReflectMessage {
  return newMessage(rng, desc, 0, pool);
}

export function encode(msg: ReflectMessage): Uint8Array {
  return toBinary(msg.desc, msg.message);
}

/** Proto3 JSON of a message, or undefined when it has no JSON form (e.g. an out-of-range Timestamp). */
export function encodeJson(msg: ReflectMessage): unknown {
  try {
    return toJson(msg.desc, msg.message, { registry: descriptorRegistry() });
  } catch {
    return undefined;
  }
}

/** Byte-level mutations of an encoded message: flips, truncation, splices, varint bombs, junk. */
export function mutateBytes(rng: Rng, input: Uint8Array): Buffer {
  let b = Buffer.from(input);
  const rounds = rng.range(1, 4);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(9)) {
      case 0: // flip a bit
        if (b.length > 0) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1: // truncate
        b = b.subarray(0, at);
        break;
      case 2: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 16)), b.subarray(at)]);
        break;
      case 3: // a never-ending varint
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(rng.range(10, 20), 0xff), b.subarray(at)]);
        break;
      case 4: // a length-delimited field declaring far more bytes than follow
        b = Buffer.concat([b, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), rng.bytes(4)]);
        break;
      case 5: // an unknown field with a wire type that does not exist (6, 7)
        b = Buffer.concat([b, Buffer.from([(rng.range(16, 200) << 3) | rng.pick([6, 7])]), rng.bytes(3)]);
        break;
      case 6: // field number 0 (invalid)
        b = Buffer.concat([Buffer.from([0x00, 0x01]), b]);
        break;
      case 7: // duplicate a slice (repeated / last-one-wins fields, nested groups)
        b = Buffer.concat([b, b.subarray(at, at + rng.range(1, 64))]);
        break;
      default: // an unterminated group
        b = Buffer.concat([b, Buffer.from([(rng.range(1, 30) << 3) | 3])]);
        break;
    }
  }
  return b;
}

/** Structural mutations of a JSON value: wrong types, unknown keys, deep nesting, huge strings. */
export function mutateJson(rng: Rng, input: unknown): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return rng.pick<unknown>([null, 0, -1, 1e308, '', 'x'.repeat(rng.range(1, 70_000)), [], {}, true, [input], { value: input }]);
  }
  const obj = { ...(input as Record<string, unknown>) };
  const keys = Object.keys(obj);
  switch (rng.int(6)) {
    case 0:
      if (keys.length > 0) obj[rng.pick(keys)] = mutateJson(rng, obj[rng.pick(keys)]);
      break;
    case 1:
      obj[rng.pick(['unknownField', '__proto__', 'constructor', '@type', '', 'a'.repeat(300)])] = rng.text(20);
      break;
    case 2:
      if (keys.length > 0) delete obj[rng.pick(keys)];
      break;
    case 3: {
      let deep: unknown = {};
      for (let i = 0; i < rng.range(50, 2000); i++) deep = { a: deep };
      obj[keys.length > 0 ? rng.pick(keys) : 'a'] = deep;
      break;
    }
    case 4:
      if (keys.length > 0) obj[rng.pick(keys)] = rng.pick<unknown>([null, 123, 'NOT_AN_ENUM', -1, 1.5, '1e999', '18446744073709551616', { }, [[]], '\ud800']);
      break;
    default:
      return [obj];
  }
  return obj;
}
