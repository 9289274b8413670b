// authmesh entry point. `npm start` runs all seven services in one process (embedded mode);
// AUTHMESH_SERVICES=token (etc.) runs a subset, with the other services' addresses from
// AUTHMESH_<SVC>_ADDR — the shape production scales.
import { ConfigError, loadConfig } from './core/config/index.js';
import { createLogger } from './core/log/index.js';
import { startMesh } from './mesh.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`authmesh: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({ level: config.logLevel });
  const mesh = await startMesh({ config, log });
  const grpc = `${config.grpcHost}:${mesh.port}`;
  if (config.services.length === 7) {
    process.stdout.write(
      [
        '',
        `authmesh is running (embedded mode): gRPC on ${grpc}, data in ${config.dataDir}`,
        'Get a first token (client_credentials for the bootstrap admin client):',
        `  npx buf curl --protocol grpc --http2-prior-knowledge \\`,
        `    -d '{"client":{"client_secret":{"client_id":"${config.adminClientId}","client_secret":"<secret>","method":"TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC"}},"client_credentials":{"scope":"authmesh.admin"}}' \\`,
        `    http://${grpc}/authmesh.token.v1.TokenService/Token`,
        '',
      ].join('\n'),
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await mesh.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // A process never crashes on input: handlers catch their own errors. Anything that still
  // escapes is a bug; log it and keep serving rather than drop every in-flight call.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
}

main().catch((err) => {
  console.error('authmesh failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
