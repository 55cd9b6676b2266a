import { describe, expect, it } from 'vitest';
import { ForbiddenException, HttpException, NotFoundException } from '@nestjs/common';
import { ErrorCode, UplinkError } from '@uplink/contracts';
import { toUplinkError } from './error-filter.js';

const req = { method: 'GET', url: '/v1/x?y=1' };
const fastifyError = (code: string, status: number) =>
  new HttpException('fastify says no', status, { cause: Object.assign(new Error('fastify says no'), { code, statusCode: status }) });

describe('toUplinkError', () => {
  it('keeps an UplinkError as it is', () => {
    const e = new UplinkError(ErrorCode.GROUP_NOT_FOUND, 'no group');
    expect(toUplinkError(e, req, 10)).toBe(e);
  });

  it('maps fastify body errors to stable codes', () => {
    expect(toUplinkError(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413), req, 10)?.toBody()).toEqual({
      error: { code: 'BODY_TOO_LARGE', message: 'the request body is larger than 10 bytes', details: { limit: 10 } },
    });
    expect(toUplinkError(fastifyError('FST_ERR_CTP_INVALID_JSON_BODY', 400), req, 10)?.code).toBe('INVALID_JSON');
    expect(toUplinkError(fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415), req, 10)?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('names the missing route without its query string', () => {
    expect(toUplinkError(new NotFoundException('Cannot GET /v1/x?y=1'), req, 10)?.message).toBe('no route GET /v1/x');
  });

  it('maps other HTTP exceptions by status and leaves anything else to the 500 path', () => {
    expect(toUplinkError(new ForbiddenException(), req, 10)?.code).toBe('FORBIDDEN');
    expect(toUplinkError(new TypeError('x is undefined'), req, 10)).toBeUndefined();
    expect(toUplinkError({ code: 'NOT_A_CODE' }, req, 10)).toBeUndefined();
  });
});
