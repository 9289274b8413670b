// Admin writes must not silently drop what the caller meant to set (issue 10 §3 i): a field the
// server's schema does not define, or an enum number its enum does not list, is refused with
// INVALID_ARGUMENT naming it. ts-proto decoding skips unknown fields and keeps unknown enum
// numbers, so the check runs on the wire bytes, driven by the descriptor set buf builds (the
// same one reflection serves), with protobuf-es's runtime (no second codegen in a service).
import { createFileRegistry, fromBinary, hasOption, isUnknownEnum, type DescExtension, type DescField, type DescMessage, type FileRegistry } from '@bufbuild/protobuf';
import { reflect, isReflectMessage, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

/** An admin RPC: one the edge exposes, i.e. with a google.api.http annotation. */
const HTTP_OPTION = 'google.api.http';

/** The first field of `message` (and its sub-messages) the schema does not define, as a path. */
export function findUnknownField(message: ReflectMessage, path = ''): string | undefined {
  const unknown = message.getUnknown();
  if (unknown && unknown.length > 0) return `${path ? `${path}.` : ''}#${unknown[0]!.no} (field number ${unknown[0]!.no} is not defined in ${message.desc.typeName})`;
  for (const field of message.fields) {
    if (!message.isSet(field)) continue;
    const found = checkField(message, field, path ? `${path}.${field.name}` : field.name);
    if (found) return found;
  }
  return undefined;
}

function checkField(message: ReflectMessage, field: DescField, at: string): string | undefined {
  switch (field.fieldKind) {
    case 'scalar':
      return undefined;
    case 'enum': {
      const v = message.get(field);
      return isUnknownEnum(field.enum, v) ? unknownEnum(at, v, field.enum.typeName) : undefined;
    }
    case 'message':
      return findUnknownField(message.get(field), at);
    case 'list': {
      const list = message.get(field);
      for (const [i, v] of list.entries()) {
        if (field.listKind === 'enum' && isUnknownEnum(field.enum, v as number)) return unknownEnum(`${at}[${i}]`, v as number, field.enum.typeName);
        if (isReflectMessage(v)) {
          const found = findUnknownField(v, `${at}[${i}]`);
          if (found) return found;
        }
      }
      return undefined;
    }
    case 'map': {
      for (const [k, v] of message.get(field)) {
        const key = `${at}[${JSON.stringify(String(k))}]`;
        if (field.mapKind === 'enum' && isUnknownEnum(field.enum, v as number)) return unknownEnum(key, v as number, field.enum.typeName);
        if (isReflectMessage(v)) {
          const found = findUnknownField(v, key);
          if (found) return found;
        }
      }
      return undefined;
    }
  }
}

function unknownEnum(at: string, value: number, enumName: string): string {
  return `${at} (${value} is not a value of ${enumName})`;
}

export interface StrictRequests {
  /**
   * For an admin method (full path `/pkg.Service/Method`), checks the request's wire bytes and
   * returns a description naming the first unknown field or enum value, or undefined when every
   * field is known. Undefined for other methods (internal RPCs tolerate version skew between
   * services; ext_authz tolerates newer Envoy fields). Throws when the bytes are not a message.
   */
  unknownFieldIn(methodPath: string, bytes: Uint8Array): string | undefined;
}

/** Reads the admin methods and their request schemas from a FileDescriptorSet (bytes). */
export function createStrictRequests(descriptorSet: Uint8Array): StrictRequests {
  const registry: FileRegistry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
  const http = registry.getExtension(HTTP_OPTION) as DescExtension | undefined;
  const inputs = new Map<string, DescMessage>();
  if (http) {
    for (const file of registry.files) {
      for (const service of file.services) {
        for (const method of service.methods) {
          if (method.methodKind === 'unary' && hasOption(method, http)) inputs.set(`/${service.typeName}/${method.name}`, method.input);
        }
      }
    }
  }
  return {
    unknownFieldIn(methodPath, bytes) {
      const desc = inputs.get(methodPath);
      if (!desc) return undefined;
      return findUnknownField(reflect(desc, fromBinary(desc, bytes, { readUnknownFields: true })));
    },
  };
}
