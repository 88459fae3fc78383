import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';
import { FIRST_LOAD_BUDGET_BYTES, firstLoadJs } from './build/first-load.js';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/web', import.meta.url));

/** Writes .gz and .br next to each text file (the server sends them as they are) and checks the size budget. */
function precompressAndBudget(): Plugin {
  return {
    name: 'rediacc-precompress-budget',
    apply: 'build',
    closeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((n) => {
          const full = join(dir, n);
          return statSync(full).isDirectory() ? walk(full) : [full];
        });
      for (const file of walk(outDir)) {
        if (!/\.(js|css|html|svg|json)$/.test(file)) continue;
        const data = readFileSync(file);
        writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
        writeFileSync(`${file}.br`, brotliCompressSync(data));
      }
      const { gzipBytes } = firstLoadJs(outDir);
      const kb = (gzipBytes / 1024).toFixed(1);
      const line = `dashboard: first load ${kb} KB of gzipped JavaScript (budget ${FIRST_LOAD_BUDGET_BYTES / 1024} KB)`;
      if (gzipBytes > FIRST_LOAD_BUDGET_BYTES) throw new Error(`${line}: over budget`);
      process.stderr.write(`${line}\n`);
    },
  };
}

export default defineConfig({
  root,
  plugins: [react(), precompressAndBudget()],
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
  server: {
    // `npm run dev:web` next to `npm start`: the API of the running server.
    proxy: { '/api': 'http://127.0.0.1:7400' },
  },
});
