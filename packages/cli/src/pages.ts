// Walking a paged list of the gateway: every page from a cursor on, in order.
import { CliError } from './errors.js';

/** Every page from `cursor` on (at most `maxPages`, a guard against a gateway that never says it is done). */
export async function fetchAllPages<P extends { nextCursor?: string | undefined }>(
  fetchPage: (cursor: string | undefined) => Promise<P>,
  cursor?: string,
  maxPages = 100_000,
): Promise<P[]> {
  const pages: P[] = [];
  let next = cursor;
  do {
    const page = await fetchPage(next);
    pages.push(page);
    if (page.nextCursor !== undefined && page.nextCursor === next) throw new CliError('the gateway answered the same cursor twice; stopping');
    next = page.nextCursor;
  } while (next !== undefined && pages.length < maxPages);
  return pages;
}
