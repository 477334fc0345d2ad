/**
 * A page path of an environment's own site, as the configuration names pages (product test, cache warm-up, audit,
 * security and performance gates). Refused: anything a URL parser would read as another host (`//host/x`, `/\host`),
 * an absolute URL, backslashes, spaces and control characters. Pure: the configuration and the activities that
 * request the pages apply the same rule.
 */
export const MAX_SITE_PATH = 2048;

export function sitePathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || !path.startsWith('/')) return 'a path on the site, starting with "/" (e.g. /about)';
  if (path.startsWith('//')) return 'a path on the site: "//" at the start names another host';
  if (path.includes('\\')) return 'a path on the site without "\\" (a browser reads "/\\host" as another host)';
  if (/[^\x21-\x7e]/.test(path)) return 'a path on the site without spaces or control characters (percent-encode them)';
  if (path.length > MAX_SITE_PATH) return `a path on the site of at most ${MAX_SITE_PATH} characters`;
  return undefined;
}
