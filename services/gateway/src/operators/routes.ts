// The gateway's routes as data, read from the controllers' Nest metadata: for the access table's tests
// and for suites that must try every route.
import { RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { Public } from '../auth.js';

export interface RouteInfo {
  method: string;
  /** route template, e.g. "/v1/groups/:group" */
  route: string;
  public: boolean;
}

export function routesOf(controllers: readonly Type[]): RouteInfo[] {
  const out: RouteInfo[] = [];
  for (const c of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, c) ?? '');
    for (const key of Object.getOwnPropertyNames(c.prototype)) {
      const handler = (c.prototype as Record<string, unknown>)[key];
      if (typeof handler !== 'function') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (method === undefined) continue;
      const path = String(Reflect.getMetadata(PATH_METADATA, handler) ?? '');
      const route = ('/' + [base, path].filter((p) => p && p !== '/').join('/')).replace(/\/+/g, '/');
      const isPublic = Boolean(Reflect.getMetadata(Public.KEY, c) ?? Reflect.getMetadata(Public.KEY, handler));
      out.push({ method: RequestMethod[method], route, public: isPublic });
    }
  }
  return out;
}
