// Overview: the current token rate and error rates from the metrics (AuditService.GetActivityRates:
// the server reads them from the Prometheus scraping it, AUTHMESH_CONSOLE_PROMETHEUS_URL; refreshed
// every RATES_REFRESH_MS), then what happened in the last hour, counted from the audit trail (at
// most MAX_EVENTS events, newest first). Failures are listed first. Token issuance is in the trail
// only when the server audits successes (AUTHMESH_AUDIT_SUCCESS).
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { useEffect, useState } from 'preact/hooks';
import { ActivityRatesState, type GetActivityRatesResponse } from '../../../gen/es/authmesh/audit/v1/audit_pb.js';
import { api, shownError } from '../api.js';
import type { ShownError } from '../errors.js';
import { ErrorBanner } from '../ui.js';

const WINDOW_MS = 60 * 60 * 1000;
const PAGE_SIZE = 500;
const MAX_EVENTS = 5000;
const FAILURE = /fail|denied|locked|reuse|replay|throttled|rejected/;
/** How often the rates are read again (the server shares one Prometheus answer for 5 s). */
const RATES_REFRESH_MS = 15_000;

/** A per-second rate in plain words: per second when at least one, else per minute. */
function rate(perSecond: number, unit: string): string {
  if (perSecond >= 1) return `${perSecond.toFixed(perSecond >= 100 ? 0 : 1)} ${unit}/s`;
  const perMinute = perSecond * 60;
  return `${perMinute.toFixed(perMinute >= 10 || perMinute === 0 ? 0 : 1)} ${unit}/min`;
}
const percent = (share: number) => `${(share * 100).toFixed(share > 0 && share < 0.001 ? 2 : 1)}%`;

/** The rates from the metrics, or why there are none; read now and every RATES_REFRESH_MS. */
function RatesPanel() {
  const [rates, setRates] = useState<GetActivityRatesResponse | undefined>();
  const [failed, setFailed] = useState<string | undefined>();
  useEffect(() => {
    let live = true;
    const read = () =>
      api.audit.getActivityRates({}).then(
        (res) => {
          if (!live) return;
          setRates(res);
          setFailed(undefined);
        },
        (err: unknown) => {
          if (live) setFailed(shownError(err).message);
        },
      );
    void read();
    const timer = window.setInterval(() => void read(), RATES_REFRESH_MS);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, []);
  const minutes = Math.round((rates?.windowSeconds ?? 300) / 60);
  let body;
  if (failed !== undefined) {
    body = <p class="rates-unavailable" data-testid="rates-state">Rates unavailable: {failed}</p>;
  } else if (rates === undefined) {
    body = <p aria-busy="true">Reading the rates…</p>;
  } else if (rates.state === ActivityRatesState.NOT_CONFIGURED) {
    body = (
      <p class="rates-unavailable" data-testid="rates-state">
        The token and error rates need a Prometheus: set <code>AUTHMESH_CONSOLE_PROMETHEUS_URL</code> to the Prometheus that scrapes this server's metrics.
      </p>
    );
  } else if (rates.state !== ActivityRatesState.AVAILABLE) {
    body = <p class="rates-unavailable" data-testid="rates-state">Rates unavailable: {rates.unavailableReason || 'Prometheus gave no answer'}. Trying again every {RATES_REFRESH_MS / 1000} s.</p>;
  } else {
    const at = rates.evaluatedAt ? timestampDate(rates.evaluatedAt) : new Date();
    body = (
      <>
        <ul class="stats" data-testid="rates-state" data-state="available">
          <li>
            <strong data-testid="token-rate">{rate(rates.tokensIssuedPerSecond, 'tokens')}</strong> tokens issued
          </li>
          <li>
            <strong data-testid="token-error-rate">{percent(rates.tokenEndpointClientErrorRatio + rates.tokenEndpointServerErrorRatio)}</strong> token requests refused or failed
            <small>
              {' '}
              ({percent(rates.tokenEndpointClientErrorRatio)} 4xx, {percent(rates.tokenEndpointServerErrorRatio)} 5xx of {rate(rates.tokenEndpointResponsesPerSecond, 'requests')})
            </small>
          </li>
          <li>
            <strong data-testid="rpc-error-rate">{percent(rates.rpcErrorRatio)}</strong> RPC calls not OK
            <small> (of {rate(rates.rpcRequestsPerSecond, 'calls')})</small>
          </li>
        </ul>
        {rates.tokensIssuedByGrantType.length > 0 && (
          <div class="table-wrap">
            <table>
              <caption>Tokens issued by grant type, average over the last {minutes} minutes</caption>
              <thead>
                <tr>
                  <th scope="col">Grant type</th>
                  <th scope="col">Rate</th>
                </tr>
              </thead>
              <tbody>
                {rates.tokensIssuedByGrantType.map((g) => (
                  <tr key={g.grantType}>
                    <td>{g.grantType}</td>
                    <td>{rate(g.perSecond, 'tokens')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p class="muted">
          Averages over the last {minutes} minutes from Prometheus, as of <time dateTime={at.toISOString()}>{at.toLocaleTimeString()}</time>; refreshed every {RATES_REFRESH_MS / 1000} s.
        </p>
      </>
    );
  }
  return (
    <section aria-labelledby="rates-heading">
      <h2 id="rates-heading">Current rates (last {minutes} minutes)</h2>
      {body}
    </section>
  );
}

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
      <RatesPanel />
      <h2>Audit events (last hour)</h2>
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
