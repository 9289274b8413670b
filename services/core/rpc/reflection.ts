// gRPC server reflection (grpc.reflection.v1 and v1alpha) served from buf's descriptor set.
//
// Why not @grpc/reflection: it rebuilds descriptors through protobufjs and answers with only the
// dependencies it can trace through type references, so files imported for options alone
// (google/api/annotations, field_behavior) and their closure confuse clients; with it, buf curl
// failed to resolve our services while the same descriptor set given to buf curl --schema
// worked. This implementation answers with the exact bytes buf produced and every transitive
// import, and lists only the services the server actually hosts.
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { loadPackageDefinition, status, type Server, type ServerDuplexStream } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { FileDescriptorProto, type DescriptorProto } from '../../../gen/ts/google/protobuf/descriptor.js';

interface ReflectionRequest {
  host?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type: string; extension_number: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
  message_request?: string;
}

/** The FileDescriptorProto bytes inside a FileDescriptorSet (field 1, repeated), unchanged. */
function rawFiles(descriptorSet: Buffer): Uint8Array[] {
  const reader = new BinaryReader(descriptorSet);
  const out: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) out.push(reader.bytes());
    else reader.skip(wireType);
  }
  return out;
}

export class DescriptorIndex {
  private readonly raw = new Map<string, Buffer>();
  private readonly deps = new Map<string, string[]>();
  private readonly symbols = new Map<string, string>();
  private readonly extensions = new Map<string, Map<number, string>>();

  constructor(descriptorSet: Buffer) {
    for (const bytes of rawFiles(descriptorSet)) {
      const decoded = FileDescriptorProto.decode(bytes);
      const file = { ...decoded, name: decoded.name ?? '' };
      // Serve the bytes buf wrote: re-encoding through generated proto2 code drops fields equal
      // to their defaults (a field's label or type), which clients then fail to resolve.
      this.raw.set(file.name, Buffer.from(bytes));
      this.deps.set(file.name, file.dependency);
      const pkg = file.package ? `${file.package}.` : '';
      const addMessage = (m: DescriptorProto, prefix: string) => {
        const fqn = `${prefix}${m.name}`;
        this.symbols.set(fqn, file.name);
        for (const f of m.field) this.symbols.set(`${fqn}.${f.name}`, file.name);
        for (const e of m.enumType) this.symbols.set(`${fqn}.${e.name}`, file.name);
        for (const x of m.extension) this.addExtension(x.extendee ?? '', x.number ?? 0, file.name, `${fqn}.${x.name}`);
        for (const n of m.nestedType) addMessage(n, `${fqn}.`);
      };
      for (const m of file.messageType) addMessage(m, pkg);
      for (const e of file.enumType) {
        this.symbols.set(`${pkg}${e.name}`, file.name);
        for (const v of e.value) this.symbols.set(`${pkg}${v.name}`, file.name);
      }
      for (const s of file.service) {
        this.symbols.set(`${pkg}${s.name}`, file.name);
        for (const m of s.method) this.symbols.set(`${pkg}${s.name}.${m.name}`, file.name);
      }
      for (const x of file.extension) this.addExtension(x.extendee ?? '', x.number ?? 0, file.name, `${pkg}${x.name}`);
    }
  }

  private addExtension(extendee: string, number: number, file: string, fqn: string) {
    const type = extendee.replace(/^\./, '');
    const byNumber = this.extensions.get(type) ?? new Map<number, string>();
    byNumber.set(number, file);
    this.extensions.set(type, byNumber);
    this.symbols.set(fqn, file);
  }

  hasSymbol(symbol: string): boolean {
    return this.symbols.has(symbol);
  }

  /** The file and its whole import closure, the file first, as the protocol asks. */
  closure(fileName: string): Buffer[] | undefined {
    if (!this.raw.has(fileName)) return undefined;
    const order: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name) || !this.raw.has(name)) return;
      seen.add(name);
      order.push(name);
      for (const d of this.deps.get(name) ?? []) visit(d);
    };
    visit(fileName);
    return order.map((n) => this.raw.get(n) as Buffer);
  }

  fileOfSymbol(symbol: string): string | undefined {
    return this.symbols.get(symbol.replace(/^\./, ''));
  }

  fileOfExtension(type: string, number: number): string | undefined {
    return this.extensions.get(type.replace(/^\./, ''))?.get(number);
  }

  extensionNumbers(type: string): number[] | undefined {
    const m = this.extensions.get(type.replace(/^\./, ''));
    return m ? [...m.keys()].sort((a, b) => a - b) : undefined;
  }
}

export function addReflection(server: Server, index: DescriptorIndex, serviceNames: () => string[]): void {
  const require = createRequire(import.meta.url);
  const protoRoot = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  for (const version of ['v1', 'v1alpha']) {
    const def = loadSync(join(protoRoot, 'grpc', 'reflection', version, 'reflection.proto'), {
      keepCase: true,
      longs: Number,
      enums: Number,
      defaults: false,
      oneofs: true,
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const svc = (loadPackageDefinition(def) as any).grpc.reflection[version].ServerReflection.service;
    server.addService(svc, {
      ServerReflectionInfo(stream: ServerDuplexStream<ReflectionRequest, unknown>) {
        stream.on('data', (req: ReflectionRequest) => stream.write(answer(req, index, serviceNames, version)));
        stream.on('end', () => stream.end());
        stream.on('error', () => undefined);
      },
    });
  }
}

function answer(req: ReflectionRequest, index: DescriptorIndex, serviceNames: () => string[], version: string) {
  const base = { valid_host: req.host ?? '', original_request: req };
  const files = (list: Buffer[] | undefined, what: string) =>
    list
      ? { ...base, file_descriptor_response: { file_descriptor_proto: list } }
      : { ...base, error_response: { error_code: status.NOT_FOUND, error_message: `${what} not found` } };
  switch (req.message_request) {
    case 'list_services':
      return {
        ...base,
        list_services_response: {
          service: [...serviceNames(), 'grpc.health.v1.Health', `grpc.reflection.${version}.ServerReflection`].map((name) => ({ name })),
        },
      };
    case 'file_by_filename':
      return files(index.closure(req.file_by_filename ?? ''), `file ${req.file_by_filename}`);
    case 'file_containing_symbol': {
      const file = index.fileOfSymbol(req.file_containing_symbol ?? '');
      return files(file ? index.closure(file) : undefined, `symbol ${req.file_containing_symbol}`);
    }
    case 'file_containing_extension': {
      const ext = req.file_containing_extension;
      const file = ext ? index.fileOfExtension(ext.containing_type, ext.extension_number) : undefined;
      return files(file ? index.closure(file) : undefined, 'extension');
    }
    case 'all_extension_numbers_of_type': {
      const type = req.all_extension_numbers_of_type ?? '';
      const numbers = index.extensionNumbers(type);
      return numbers
        ? { ...base, all_extension_numbers_response: { base_type_name: type, extension_number: numbers } }
        : { ...base, error_response: { error_code: status.NOT_FOUND, error_message: `type ${type} not found` } };
    }
    default:
      return { ...base, error_response: { error_code: status.UNIMPLEMENTED, error_message: 'unsupported reflection request' } };
  }
}
