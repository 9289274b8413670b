// What the command-line tool prints on stdout: proto JSON for scripts (`--json`), and for people
// a table (listings) or a key/value view (one resource). Both views are built from the message's
// proto JSON form (ts-proto's toJSON: lowerCamelCase names, timestamps as RFC 3339 strings, enums
// by name, default values omitted), so the two never disagree about a value.

/** A JSON value as ts-proto's toJSON produces it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** One column of a table: its header and the proto JSON field (lowerCamelCase) it shows. */
export interface Column {
  header: string;
  field: string;
}

/** Writes text to stdout; a closed pipe (`| head`) is not an error of the command. */
export function writeOut(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** `--json`: the response exactly as proto JSON, two-space indented, one document per command. */
export function printJson(value: unknown): void {
  writeOut(JSON.stringify(value ?? {}, null, 2));
}

/** A cell: scalars as they are, lists joined by ", ", nested objects as compact JSON, absent as "". */
export function cell(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

// Control characters from server data (a client name, a user's display name) would let a value
// rewrite the terminal; they are shown escaped.
const printable = (text: string) => text.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * A table: a header row, then one row per item, columns padded to their widest cell and
 * separated by two spaces. An empty listing prints the header alone, so scripts that scrape the
 * table (they should use --json) see the same shape.
 */
export function formatTable(items: readonly JsonObject[], columns: readonly Column[]): string {
  const rows = [columns.map((c) => c.header), ...items.map((item) => columns.map((c) => printable(cell(item[c.field]))))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/**
 * A key/value view of one object: one line per field present, `name  value`, names in proto
 * JSON form and aligned. Nested messages are flattened with dotted names (publicJwk.kty).
 */
export function formatKeyValues(object: JsonObject): string {
  const pairs: [string, string][] = [];
  const walk = (prefix: string, value: JsonObject) => {
    for (const [key, v] of Object.entries(value)) {
      const name = prefix === '' ? key : `${prefix}.${key}`;
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0 && prefix.split('.').length < 3) walk(name, v);
      else pairs.push([name, printable(cell(v))]);
    }
  };
  walk('', object);
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`.trimEnd()).join('\n');
}
