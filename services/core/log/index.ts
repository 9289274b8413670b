// One structured logger (pino) for every process. Redaction is a backstop: code never passes
// secrets or tokens to a log call in the first place, but if a request or metadata object slips
// in, these paths are censored.
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  '*.authorization',
  '*.password',
  '*.current_password',
  '*.new_password',
  '*.currentPassword',
  '*.newPassword',
  '*.client_secret',
  '*.clientSecret',
  '*.secret',
  '*.token',
  '*.access_token',
  '*.accessToken',
  '*.refresh_token',
  '*.refreshToken',
  '*.code',
  '*.code_verifier',
  '*.codeVerifier',
  '*.client_assertion',
  '*.clientAssertion',
  '*.cookie',
  '*["x-authmesh-mesh"]',
];

export function createLogger(options: { name?: string; level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.AUTHMESH_LOG_LEVEL ?? 'info';
  const opts = { name: options.name ?? 'authmesh', level, redact: { paths: REDACT, censor: '[redacted]' } };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that writes nothing, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
