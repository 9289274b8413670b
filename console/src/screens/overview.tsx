// Overview: what happened in the last hour, counted from the audit trail (at most MAX_EVENTS events,
// newest first). Failures are listed first. Token issuance is in the trail only when the server
// audits successes (AUTHMESH_AUDIT_SUCCESS); request and error rates belong to the metrics.
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { useEffect, useState } from 'preact/hooks';
import { api, shownError } from '../api.js';
import type { ShownError } from '../errors.js';
import { ErrorBanner } from '../ui.js';

const WINDOW_MS = 60 * 60 * 1000;
const PAGE_SIZE = 500;
const MAX_EVENTS = 5000;
const FAILURE = /fail|denied|locked|reuse|replay|throttled|rejected/;

export function OverviewScreen() {
  const [counts, setCounts] = useState<[string, number][] | undefined>();
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState<ShownError | undefined>();
  useEffect(() => {
    void (async () => {
      try {
        const since = timestampFromDate(new Date(Date.now() - WINDOW_MS));
        const byType = new Map<string, number>();
        let pageToken = '';
        let seen = 0;
        do {
          const res = await api.audit.listAuditEvents({ since, pageSize: PAGE_SIZE, pageToken });
          for (const e of res.events) byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
          seen += res.events.length;
          pageToken = res.nextPageToken;
        } while (pageToken !== '' && seen < MAX_EVENTS);
        setTruncated(pageToken !== '');
        setCounts([...byType].sort(([a, x], [b, y]) => Number(FAILURE.test(b)) - Number(FAILURE.test(a)) || y - x || a.localeCompare(b)));
      } catch (err) {
        setError(shownError(err));
      }
    })();
  }, []);
  const failures = counts?.filter(([type]) => FAILURE.test(type)).reduce((n, [, c]) => n + c, 0) ?? 0;
  const issued = counts?.find(([type]) => type === 'token.issued')?.[1];
  return (
    <>
      <ErrorBanner error={error} />
      {counts === undefined && !error && <p aria-busy="true">Counting the last hour…</p>}
      {counts && (
        <>
          <ul class="stats">
            <li>
              <strong>{issued === undefined ? '—' : issued}</strong> tokens issued
              {issued === undefined && <small> (not audited: AUTHMESH_AUDIT_SUCCESS is off)</small>}
            </li>
            <li>
              <strong>{failures}</strong> failures (authentication, replay, reuse, denial)
            </li>
          </ul>
          <div class="table-wrap">
            <table>
              <caption>
                Audit events in the last hour{truncated ? ` (the newest ${MAX_EVENTS})` : ''}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Event type</th>
                  <th scope="col">Count</th>
                </tr>
              </thead>
              <tbody>
                {counts.map(([type, count]) => (
                  <tr key={type} class={FAILURE.test(type) ? 'failure' : undefined}>
                    <td>
                      <a href={`#/audit`}>{type}</a>
                    </td>
                    <td>{count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {counts.length === 0 && <p>No events in the last hour.</p>}
        </>
      )}
    </>
  );
}
