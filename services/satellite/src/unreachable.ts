// Whether an error only says that nobody answered across the WAN: the normal case while the link is
// down, logged at debug rather than as an error.
export function isUnreachable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { name, message } = e as { name?: string; message?: string };
    if (name === 'NoResponders' || name === 'NoRespondersError' || name === 'TimeoutError') return true;
    if (/no responders|timeout|timed out|\b503\b/i.test(message ?? '')) return true;
  }
  return false;
}
