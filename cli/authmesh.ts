#!/usr/bin/env node
// `authmesh`: the command-line tool for authmesh's admin tasks (README "Command-line tool").
// Compiled by `npm run build` to dist/cli/authmesh.js, the package's bin; `npm run -s authmesh -- …`
// runs it from a clone.
import { main } from './program.js';

// A reader that went away (`authmesh clients list | head -1`) ends the output, not the command.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

process.exitCode = await main(process.argv.slice(2));
