import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `vite build` puts the dashboard (web/vite.config.ts): dist/web at the package root. */
export const WEB_DIR = fileURLToPath(new URL('../../../dist/web', import.meta.url));

/**
 * The dashboard's own rules for the browser: scripts, styles and requests
 * only from this origin, never framed, no referrer to other sites.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>rediacc</title>
<p>The rediacc dashboard is not built. Run <code>npm run build</code> (or <code>npm start</code>) and reload.
The API is at <a href="/api/v1/health">/api/v1/health</a>.</p>`;

function listFiles(root: string): Set<string> {
  const files = new Set<string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (!/\.(gz|br)$/.test(name)) files.add(`/${relative(root, full).split(sep).join('/')}`);
    }
  };
  walk(root);
  return files;
}

/**
 * Serves the dashboard at `/`: its built files, and index.html for every
 * other path outside the API (the app routes in the browser). Only files
 * that exist at start are served; hashed assets are cached for good.
 */
export async function registerDashboard(
  app: FastifyInstance,
  apiPrefix: string,
  root = WEB_DIR,
): Promise<void> {
  const built = existsSync(join(root, 'index.html'));
  const files = built ? listFiles(root) : new Set<string>();
  if (built) {
    await app.register(fastifyStatic, { root, serve: false, preCompressed: true });
  }
  const page = (reply: FastifyReply) => {
    reply.headers(PAGE_HEADERS).header('cache-control', 'no-cache');
    if (!built) return reply.type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.sendFile('index.html', { cacheControl: false });
  };
  const options = { config: { permission: 'public' }, schema: { hide: true } };
  app.get('/', options, async (_request, reply) => page(reply));
  app.get('/*', options, async (request, reply) => {
    const rawPath = request.url.split('?')[0] ?? '/';
    let path = rawPath;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      // A malformed escape is no file of ours: the app shows its "not found" page.
    }
    if (path === apiPrefix || path.startsWith(`${apiPrefix}/`) || path.startsWith('/api/')) {
      return reply.callNotFound();
    }
    if (files.has(path) && path !== '/index.html') {
      reply.header('x-content-type-options', 'nosniff');
      reply.header(
        'cache-control',
        path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=300',
      );
      return reply.sendFile(path.slice(1), { cacheControl: false });
    }
    if (path.startsWith('/assets/')) return reply.callNotFound();
    return page(reply);
  });
}
