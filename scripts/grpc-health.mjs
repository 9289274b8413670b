#!/usr/bin/env node
// Container health check: asks a server's grpc.health.v1 whether it serves (a service name, or the
// server as a whole). Exit 0 when SERVING, 1 otherwise. No grpc_health_probe binary needed.
//   node scripts/grpc-health.mjs 127.0.0.1:50051 [authmesh.token.v1.TokenService]
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';

const [, , address = '127.0.0.1:50051', service = ''] = process.argv;

// HealthCheckRequest { string service = 1; } / HealthCheckResponse { ServingStatus status = 1; }
const encode = (name) => {
  const bytes = Buffer.from(name, 'utf8');
  return bytes.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
};
const decode = (buf) => (buf.length >= 2 && buf[0] === 0x08 ? buf[1] : 0);
const SERVING = 1;

const Health = makeGenericClientConstructor(
  {
    check: {
      path: '/grpc.health.v1.Health/Check',
      requestStream: false,
      responseStream: false,
      requestSerialize: encode,
      requestDeserialize: (b) => b,
      responseSerialize: (b) => b,
      responseDeserialize: decode,
    },
  },
  'Health',
);
const client = new Health(address, credentials.createInsecure());
client.check(service, { deadline: Date.now() + 2_000 }, (err, status) => {
  client.close();
  if (err) {
    console.error(`${address}: ${err.message}`);
    process.exit(1);
  }
  if (status !== SERVING) console.error(`${address}: ${service || 'server'} is not serving (status ${status})`);
  process.exit(status === SERVING ? 0 : 1);
});
