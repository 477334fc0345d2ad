/** Configured pages stay on the environment's own site (issue 16, item 5): refused by the schema and by the activity. */
import { describe, expect, it } from 'vitest';
import { sitePage } from '../../src/activities/health';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { sitePathProblem } from '../../src/shared/site-path';

const ESCAPES = ['//evil.example/x', '/\\evil.example/x', 'http://evil.example/', 'https://127.0.0.2/', '/a b', '/x\\y', 'about', '', '/\n'];

describe('page paths', () => {
  it('accept paths on the site', () => {
    for (const path of ['/', '/about', '/a/b?x=1&y=%20', '/health#top']) expect(sitePathProblem(path), path).toBeUndefined();
  });

  it('refuse what would name another host, and say why', () => {
    for (const path of ESCAPES) expect(sitePathProblem(path), JSON.stringify(path)).toMatch(/path on the site/);
  });

  it('are refused by the schema in every page list, with the field named', () => {
    const base = { id: 'paths', repository: '.' };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ cache: { warmPages: ['//evil.example/'] } }, /cache\.warmPages\.0: .*another host/],
      [{ audit: { pages: ['/\\evil.example'] } }, /audit\.pages\.0/],
      [{ productTest: { pages: [{ path: 'http://evil.example/' }] } }, /productTest\.pages\.0\.path/],
      [{ app: { healthPath: '//evil.example/health' } }, /app\.healthPath/],
      [{ performanceTest: { pages: ['//evil.example/'] } }, /performanceTest\.pages\.0/],
    ];
    for (const [fields, message] of cases) expect(() => parsePipelineConfig({ ...base, ...fields })).toThrow(message);
  });

  it('are refused again by the activity that requests them, whatever reached it', () => {
    expect(sitePage('http://127.0.0.1:18080', '/about').href).toBe('http://127.0.0.1:18080/about');
    for (const path of ESCAPES) {
      expect(() => sitePage('http://127.0.0.1:18080/', path), JSON.stringify(path)).toThrow(/is not a path on http:\/\/127\.0\.0\.1:18080/);
    }
  });
});
