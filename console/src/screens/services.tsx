// Services (resource servers): their audience, endpoints and the scope each endpoint requires.
import { useEffect, useState } from 'preact/hooks';
import type { Service } from '../../../gen/es/authmesh/service/v1/service_pb.js';
import { api, shownError } from '../api.js';
import type { ShownError } from '../errors.js';
import { ErrorBanner } from '../ui.js';

export function ServicesScreen() {
  const [services, setServices] = useState<Service[]>([]);
  const [pages, setPages] = useState<string[]>(['']);
  const [next, setNext] = useState('');
  const [error, setError] = useState<ShownError | undefined>();
  const page = pages[pages.length - 1]!;
  useEffect(() => {
    api.services
      .listServices({ pageSize: 20, pageToken: page })
      .then((res) => {
        setServices(res.services);
        setNext(res.nextPageToken);
      })
      .catch((err) => setError(shownError(err)));
  }, [page]);
  return (
    <>
      <ErrorBanner error={error} />
      {services.length === 0 && <p>No services registered.</p>}
      {services.map((s) => (
        <section class="card" key={s.serviceId} aria-labelledby={`svc-${s.serviceId}`}>
          <h2 id={`svc-${s.serviceId}`}>{s.displayName || s.serviceId}</h2>
          <p>
            Audience <code>{s.audience}</code> · scopes: {s.scopes.join(' ') || 'none'}
            {s.dpopBoundAccessTokensRequired ? ' · DPoP-bound tokens required' : ''}
          </p>
          {s.description && <p>{s.description}</p>}
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Method</th>
                  <th scope="col">Path</th>
                  <th scope="col">Scope</th>
                  <th scope="col">Clients allowed</th>
                </tr>
              </thead>
              <tbody>
                {s.endpoints.map((e) => (
                  <tr key={`${e.method} ${e.path}`}>
                    <td>{e.method}</td>
                    <td>
                      <code>{e.path}</code>
                    </td>
                    <td>{e.scope || '—'}</td>
                    <td>{e.allowedClientIds.join(', ') || 'any'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
      <nav class="pager" aria-label="Service pages">
        <button type="button" disabled={pages.length === 1} onClick={() => setPages(pages.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {pages.length}</span>
        <button type="button" disabled={next === ''} onClick={() => setPages([...pages, next])}>
          Next page
        </button>
      </nav>
    </>
  );
}
