// Signing keys: each key's algorithm and status (next / active / retired) and times; rotation.
import { useEffect, useState } from 'preact/hooks';
import { KeyAlgorithm, KeyStatus, type SigningKey } from '../../../gen/es/authmesh/key/v1/key_pb.js';
import { api, shownError } from '../api.js';
import type { ShownError } from '../errors.js';
import { ErrorBanner, Notice, when } from '../ui.js';

const name = (e: Record<number, string>, v: number) => (e[v] ?? String(v)).toLowerCase();

export function KeysScreen() {
  const [keys, setKeys] = useState<SigningKey[]>([]);
  const [error, setError] = useState<ShownError | undefined>();
  const [notice, setNotice] = useState('');
  const load = async () => {
    try {
      setKeys((await api.keys.listKeys({})).keys);
    } catch (err) {
      setError(shownError(err));
    }
  };
  useEffect(() => void load(), []);
  const rotate = async () => {
    if (!window.confirm('Rotate the signing keys? The next key becomes active; the active one retires (it still verifies tokens until they expire).')) return;
    try {
      await api.keys.rotateKeys({ algorithm: KeyAlgorithm.UNSPECIFIED });
      setNotice('Keys rotated.');
      setError(undefined);
      await load();
    } catch (err) {
      setError(shownError(err));
    }
  };
  return (
    <>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error} />
      <div class="toolbar">
        <button type="button" class="primary" onClick={() => void rotate()}>
          Rotate keys
        </button>
      </div>
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Signing keys</caption>
          <thead>
            <tr>
              <th scope="col">Key ID</th>
              <th scope="col">Algorithm</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Active since</th>
              <th scope="col">Retired</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.kid}>
                <td>
                  <code>{k.kid}</code>
                </td>
                <td>{name(KeyAlgorithm, k.algorithm)}</td>
                <td>{name(KeyStatus, k.status)}</td>
                <td>{when(k.createTime)}</td>
                <td>{when(k.activateTime)}</td>
                <td>{when(k.retireTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
