// Small shared pieces of the screens: labelled fields with their error, the error banner, times.
import type { ComponentChildren } from 'preact';
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import type { ShownError } from './errors.js';

let ids = 0;
/** A unique element id for a label/field/error triple. */
export const nextId = (prefix: string) => `${prefix}-${++ids}`;

export function Field(props: { label: string; name: string; error?: ShownError | undefined; hint?: string; children: (id: string, describedBy: string | undefined) => ComponentChildren }) {
  const id = `f-${props.name}`;
  const mine = props.error?.field === props.name ? props.error : undefined;
  const describedBy = [props.hint ? `${id}-hint` : '', mine ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${mine ? ' invalid' : ''}`}>
      <label for={id}>{props.label}</label>
      {props.children(id, describedBy)}
      {props.hint && (
        <small id={`${id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
      {mine && (
        <p id={`${id}-error`} class="field-error" role="alert">
          {mine.message}
        </p>
      )}
    </div>
  );
}

/** An error not tied to one field (a field's own error is shown next to it instead). */
export function ErrorBanner({ error, fields = [] }: { error: ShownError | undefined; fields?: string[] }) {
  if (!error || (error.field !== undefined && fields.includes(error.field))) return null;
  return (
    <p class="error" role="alert">
      {error.message}
    </p>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <p class="notice" role="status">
      {children}
    </p>
  );
}

export const when = (t: Timestamp | undefined): string => (t ? timestampDate(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');

/** Lines of a textarea, trimmed, empty ones dropped. */
export const lines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
/** Space-separated words, empty ones dropped. */
export const words = (text: string): string[] => text.split(/\s+/).filter(Boolean);
