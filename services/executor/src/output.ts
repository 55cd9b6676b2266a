// What leaves the site in a result: bounded in size, never a secret.

const SECRET_KEY = /pass(word|phrase)?|secret|token|seed|creds?$|credential|private|api[-_]?key|authorization|cookie/i;
const NKEY_SEED = /\bS[A-Z][A-Z2-7]{56}\b/g;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi;

/** A deep copy with every secret-looking field, nkey seed and URL password replaced by "[redacted]". */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 20) return '[too deep]';
  if (typeof value === 'string') return value.replace(NKEY_SEED, '[redacted]').replace(URL_PASSWORD, '$1[redacted]@');
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) && v !== undefined && v !== null && v !== '' ? '[redacted]' : redact(v, depth + 1)]));
  }
  return value;
}

/** `text` cut to at most `limitBytes` UTF-8 bytes, saying so when cut; NUL characters removed. */
export function boundOutput(text: string, limitBytes: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/\u0000/g, '');
  const size = Buffer.byteLength(clean);
  if (size <= limitBytes) return clean;
  const marker = `\n… (truncated: ${size} bytes of output, limit ${limitBytes})`;
  let cut = Buffer.from(clean).subarray(0, Math.max(0, limitBytes - Buffer.byteLength(marker))).toString('utf8');
  // a multi-byte character cut in half decodes as U+FFFD; drop it
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + marker;
}

export function toOutput(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2) ?? '';
}
