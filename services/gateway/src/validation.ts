// Input validation at the HTTP boundary: path parameters, query strings and JSON bodies are parsed by the
// contracts' zod schemas; a failure is VALIDATION_FAILED naming the parameter (or field) and the rule.
import { createParamDecorator, type ExecutionContext, type PipeTransform } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ErrorCode, GroupName, SatelliteName, UplinkError, parseOrThrow } from '@uplink/contracts';

/** Pipe for one path parameter, e.g. `@Param('group', pathParam('group', GroupName))`. */
export function pathParam<S extends z.ZodType>(name: string, schema: S): PipeTransform<unknown, z.infer<S>> {
  return {
    transform: (value: unknown) => {
      const r = schema.safeParse(value);
      if (r.success) return r.data;
      const rule = r.error.issues.map((i) => i.message).join('; ');
      throw new UplinkError(ErrorCode.VALIDATION_FAILED, `invalid path parameter "${name}": ${rule}`, {
        details: [{ path: name, in: 'path', message: rule }],
      });
    },
  };
}

export const groupParam = (name = 'group') => pathParam(name, GroupName);
export const satelliteParam = (name = 'name') => pathParam(name, SatelliteName);

/** Pipe for the whole query string, e.g. `@Query(query(z.strictObject({ group: GroupName.optional() })))`. */
export function query<S extends z.ZodType>(schema: S): PipeTransform<unknown, z.infer<S>> {
  return { transform: (value: unknown) => parseOrThrow(schema, value ?? {}, 'query') };
}

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

const JsonRequestBody = createParamDecorator((_data: unknown, ctx: ExecutionContext) => {
  const req = ctx.switchToHttp().getRequest<FastifyRequest>();
  const type = req.headers['content-type'];
  if (!isJson(type)) {
    throw new UplinkError(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `this route takes a JSON body: send "Content-Type: application/json" (got ${type ? `"${type}"` : 'none'})`,
    );
  }
  return req.body;
});

/**
 * The request body, which must be `application/json` (else 415) and match `schema` (else 400).
 * Malformed JSON and oversized bodies are rejected earlier by fastify's parser (INVALID_JSON, 413).
 */
export function JsonBody<S extends z.ZodType>(schema: S): ParameterDecorator {
  return JsonRequestBody({ transform: (value: unknown) => parseOrThrow(schema, value, 'request body') } satisfies PipeTransform);
}
