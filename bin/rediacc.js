#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`rediacc: internal error: ${err?.stack ?? err}\n`);
  process.exit(70);
});
