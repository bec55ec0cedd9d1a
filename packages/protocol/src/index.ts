// @rt/protocol: the wire format of docs/protocol.md, the one source for the server
// (apps/api), the web app (apps/web), the benchmark (apps/bench) and the tests.
export * from './board.js';
export * from './limits.js';
export * from './probe.js';
export * from './reconnect.js';
export * from './sse.js';
export * from './ws.js';
