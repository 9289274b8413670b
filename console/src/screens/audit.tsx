// The audit trail, newest first, filtered by event type, client, user (subject) and time.
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { JsonObject } from '@bufbuild/protobuf';
import { useEffect, useState } from 'preact/hooks';
import type { AuditEvent } from '../../../gen/es/authmesh/audit/v1/audit_pb.js';
import { api, shownError } from '../api.js';
import type { ShownError } from '../errors.js';
import { ErrorBanner, Field, when } from '../ui.js';

const PAGE_SIZE = 50;
interface Filter {
  type: string;
  clientId: string;
  subject: string;
  since: string;
}
const EMPTY: Filter = { type: '', clientId: '', subject: '', since: '' };

const detailsText = (d: JsonObject | undefined) =>
  d
    ? Object.entries(d)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')
    : '';

export function AuditScreen() {
  const [draft, setDraft] = useState<Filter>(EMPTY);
  const [filter, setFilter] = useState<Filter>(EMPTY);
  const [pages, setPages] = useState<string[]>(['']);
  const [next, setNext] = useState('');
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [error, setError] = useState<ShownError | undefined>();
  const page = pages[pages.length - 1]!;

  const load = async () => {
    try {
      const since = filter.since === '' ? undefined : new Date(filter.since);
      if (since && Number.isNaN(since.getTime())) throw new Error('since');
      const res = await api.audit.listAuditEvents({
        type: filter.type.trim(),
        clientId: filter.clientId.trim(),
        subject: filter.subject.trim(),
        ...(since ? { since: timestampFromDate(since) } : {}),
        pageSize: PAGE_SIZE,
        pageToken: page,
      });
      setEvents(res.events);
      setNext(res.nextPageToken);
      setError(undefined);
    } catch (err) {
      setError((err as Error).message === 'since' ? { message: 'The time is not a date and time', field: 'since' } : shownError(err));
    }
  };
  useEffect(() => void load(), [filter, page]);

  return (
    <>
      <form
        class="filters"
        aria-label="Filter events"
        onSubmit={(e) => {
          e.preventDefault();
          setPages(['']);
          setFilter({ ...draft });
        }}
      >
        <Field label="Type" name="type" error={error}>
          {(id, by) => <input id={id} aria-describedby={by} placeholder="e.g. client.created" value={draft.type} onInput={(e) => setDraft({ ...draft, type: e.currentTarget.value })} />}
        </Field>
        <Field label="Client ID" name="client_id" error={error}>
          {(id, by) => <input id={id} aria-describedby={by} value={draft.clientId} onInput={(e) => setDraft({ ...draft, clientId: e.currentTarget.value })} />}
        </Field>
        <Field label="User (subject)" name="subject" error={error}>
          {(id, by) => <input id={id} aria-describedby={by} value={draft.subject} onInput={(e) => setDraft({ ...draft, subject: e.currentTarget.value })} />}
        </Field>
        <Field label="Since" name="since" error={error}>
          {(id, by) => <input id={id} type="datetime-local" aria-describedby={by} value={draft.since} onInput={(e) => setDraft({ ...draft, since: e.currentTarget.value })} />}
        </Field>
        <div class="actions">
          <button type="submit" class="primary">
            Apply
          </button>
          <button type="button" onClick={() => void load()}>
            Refresh
          </button>
        </div>
      </form>
      <ErrorBanner error={error} fields={['since']} />
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Audit events, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Type</th>
              <th scope="col">Actor</th>
              <th scope="col">Subject</th>
              <th scope="col">Client</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.eventId} data-event-type={e.type}>
                <td>{when(e.eventTime)}</td>
                <td>{e.type}</td>
                <td>{e.actor}</td>
                <td>{e.subject}</td>
                <td>{e.clientId}</td>
                <td class="details">{detailsText(e.details)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {events.length === 0 && <p>No events.</p>}
      <nav class="pager" aria-label="Event pages">
        <button type="button" disabled={pages.length === 1} onClick={() => setPages(pages.slice(0, -1))}>
          Newer
        </button>
        <span>Page {pages.length}</span>
        <button type="button" disabled={next === ''} onClick={() => setPages([...pages, next])}>
          Older
        </button>
      </nav>
    </>
  );
}
