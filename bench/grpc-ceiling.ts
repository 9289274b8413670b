// The trivial unary call of the grpc-js ceiling row: an empty request answered by an empty
// response, raw bytes in and out (no protobuf work at all), so the row measures what grpc-js
// itself costs per call on this machine: HTTP/2 framing, the channel, the server's dispatch.

const passthrough = (b: Buffer): Buffer => b;

/** A grpc-js service definition with one unary method, /bench.Ceiling/Ping (Buffer in, Buffer out). */
export const CeilingService = {
  ping: {
    path: '/bench.Ceiling/Ping' as const,
    requestStream: false as const,
    responseStream: false as const,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  },
} as const;

export const EMPTY = Buffer.alloc(0);
