import { describe, expect, it } from 'vitest';
import { credentialsFromJson } from './credentials.js';

describe('credentialsFromJson', () => {
  it('finds credentials by origin, host or hostname of the registry URL', () => {
    const lookup = credentialsFromJson(
      JSON.stringify({
        'https://Harbor.example.com/': { username: 'robot', password: 'a' },
        '127.0.0.1:5000': { username: 'local', password: 'b' },
        'ghcr.io': { username: 'gh', password: 'c' },
      }),
    );
    expect(lookup('https://harbor.example.com')).toEqual({ username: 'robot', password: 'a' });
    expect(lookup('http://127.0.0.1:5000')).toEqual({ username: 'local', password: 'b' });
    expect(lookup('https://ghcr.io:443')).toEqual({ username: 'gh', password: 'c' });
    expect(lookup('https://quay.io')).toBeUndefined();
    expect(credentialsFromJson(undefined)('https://harbor.example.com')).toBeUndefined();
  });

  it('rejects what is not the expected JSON with a stable code and without echoing secrets', () => {
    expect(() => credentialsFromJson('{"ghcr.io": {"username": "gh", "password": "secret-value"')).toThrow(expect.objectContaining({ code: 'CREDENTIALS_INVALID' }));
    expect(() => credentialsFromJson('{"ghcr.io": {"username": "gh", "password": "secret-value"')).not.toThrow(/secret-value/);
    let message = '';
    try {
      credentialsFromJson(JSON.stringify({ 'ghcr.io': { username: 'gh', pass: 'secret-value' } }));
    } catch (err) {
      message = (err as Error).message;
      expect(err).toMatchObject({ code: 'CREDENTIALS_INVALID' });
    }
    expect(message).toMatch(/REGISTRY_CREDENTIALS/);
    expect(message).not.toContain('secret-value');
  });
});
