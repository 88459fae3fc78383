import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** The most JavaScript the dashboard may make a browser load before its first page shows, gzipped. */
export const FIRST_LOAD_BUDGET_BYTES = 300 * 1024;

/**
 * The JavaScript a first visit loads: the entry script of index.html and the
 * chunks it preloads (pages loaded later on demand do not count), each
 * gzipped at level 9 as the server sends it.
 */
export function firstLoadJs(outDir: string): {
  files: { file: string; gzipBytes: number }[];
  gzipBytes: number;
} {
  const html = readFileSync(join(outDir, 'index.html'), 'utf8');
  const refs = new Set<string>();
  for (const m of html.matchAll(/<script[^>]+src="([^"]+\.js)"/g)) refs.add(m[1] as string);
  for (const m of html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"/g))
    refs.add(m[1] as string);
  const files = [...refs].map((ref) => {
    const data = readFileSync(join(outDir, ref.replace(/^\//, '')));
    return { file: ref, gzipBytes: gzipSync(data, { level: 9 }).length };
  });
  return { files, gzipBytes: files.reduce((a, f) => a + f.gzipBytes, 0) };
}
