import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './passwords.js';

const fast = { N: 2 ** 10, r: 8, p: 1 };

describe('password hashes', () => {
  it('verifies the password it was made from, and nothing else', async () => {
    const h = await hashPassword('correct horse battery', fast);
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('correct horse battery', h)).toBe(true);
    expect(await verifyPassword('correct horse batterx', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('salts every hash, and keeps the parameters in it', async () => {
    const [a, b] = await Promise.all([hashPassword('same password!', fast), hashPassword('same password!')]);
    expect(a).not.toBe(b);
    expect(b.split('$').slice(0, 4)).toEqual(['scrypt', '32768', '8', '1']);
    expect(await verifyPassword('same password!', b)).toBe(true);
  });

  it('matches nothing against a malformed or hostile hash', async () => {
    const good = await hashPassword('some password', fast);
    const parts = good.split('$');
    for (const bad of ['', 'plain', parts.slice(0, 5).join('$'), ['bcrypt', ...parts.slice(1)].join('$'), ['scrypt', String(2 ** 30), ...parts.slice(2)].join('$'), ['scrypt', '1000', ...parts.slice(2)].join('$')]) {
      expect(await verifyPassword('some password', bad), bad).toBe(false);
    }
  });
});
