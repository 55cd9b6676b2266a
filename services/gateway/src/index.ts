export { createGatewayApp } from './app.js';
export { GatewayModule, controllers } from './gateway.module.js';
export { RpcGateway, readinessProbes } from './rpc-gateway.js';
export { Public, Roles, Caller } from './auth.js';
export { minimumRole } from './operators/access.js';
export { routesOf } from './operators/routes.js';
export { JsonBody, pathParam, groupParam, satelliteParam, query } from './validation.js';

export type { GatewayApp, GatewayAppOptions } from './app.js';
export type { GatewayConfig } from './env.js';
export type { GatewayModuleDeps } from './gateway.module.js';
export type { CallOptions, ServiceCheck } from './rpc-gateway.js';
export type { Readiness, ServiceReadiness } from './health.controller.js';
export type { Principal } from './operators/token-verifier.js';
export type { RouteInfo } from './operators/routes.js';
