import { describe, expect, it } from 'vitest';
import { AUDIT_BODY_MAX_BYTES, auditBody, describeChange, redact } from './audit-events.js';

describe('audit events', () => {
  it('names the change of known and unknown routes', () => {
    expect(describeChange({ method: 'PUT', route: '/v1/groups/:group/satellites/:name', params: { group: 'g1', name: 'edge-01' }, body: undefined })).toEqual({
      entity: 'group',
      verb: 'assign',
      entityId: 'g1',
    });
    expect(describeChange({ method: 'POST', route: '/v1/satellites', params: {}, body: { name: 'edge-02' } })).toEqual({ entity: 'satellite', verb: 'create', entityId: 'edge-02' });
    expect(describeChange({ method: 'POST', route: '/v1/login', params: {}, body: { username: 'vera', password: 'x' } })).toEqual({ entity: 'user', verb: 'login', entityId: 'vera' });
    expect(describeChange({ method: 'POST', route: '/v1/commands', params: {}, body: { action: 'x' }, result: { id: 'c-1' } })).toEqual({ entity: 'command', verb: 'create', entityId: 'c-1' });
    expect(describeChange({ method: 'POST', route: '/v1/widgets/:id/frobnicate', params: { id: 'w1' }, body: {} })).toEqual({ entity: 'widget', verb: 'frobnicate-create', entityId: 'w1' });
    expect(describeChange({ method: 'DELETE', route: '/v1/widgets/:id', params: { id: 'w1' }, body: undefined })).toEqual({ entity: 'widget', verb: 'delete', entityId: 'w1' });
  });

  it('redacts passwords, tokens and credentials at any depth, keeping the rest', () => {
    const body = {
      name: 'vera',
      password: 'hunter2-hunter2',
      token: 'upl_x',
      joinToken: 'jt',
      publicKey: 'UABC',
      nested: [{ registryCredentials: { user: 'u', pass: 'p' }, newPassword: 'n', seed: 'S', privateKey: 'k', apiKey: 'a', keep: 1 }],
    };
    expect(redact(body)).toEqual({
      name: 'vera',
      password: '[redacted]',
      token: '[redacted]',
      joinToken: '[redacted]',
      publicKey: 'UABC',
      nested: [{ registryCredentials: '[redacted]', newPassword: '[redacted]', seed: '[redacted]', privateKey: '[redacted]', apiKey: '[redacted]', keep: 1 }],
    });
    expect(body.password).toBe('hunter2-hunter2');
  });

  it('keeps only the size of a large body', () => {
    expect(auditBody(undefined)).toBeUndefined();
    expect(auditBody({ labels: { a: 'x'.repeat(AUDIT_BODY_MAX_BYTES) } })).toEqual({ truncated: true, bytes: expect.any(Number) });
  });
});
