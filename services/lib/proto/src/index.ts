// Generated code lives in ./gen (from proto/ by `npm run generate`); this file only re-exports it.

export * as healthV1 from './gen/grpc/health/v1/health.js';
export * as routingV1 from './gen/hermod/routing/v1/routing.js';
