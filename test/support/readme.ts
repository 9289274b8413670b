// README.md's shell commands, read from README.md itself, so that tests run exactly what a reader
// copies and README and tests cannot drift apart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../services/core/rpc/index.js';

export interface ReadmeCommand {
  /** The heading (## or ###) the block is under, without the hashes. */
  section: string;
  /** The command as written: one line, or several joined by their trailing backslashes. */
  text: string;
  /** The command without its trailing `# comment` and with whitespace collapsed, for matching. */
  command: string;
  /** The name of the `<!-- NAME: begin … -->` … `<!-- NAME: end -->` region the block is in, if any. */
  region?: string;
}

/**
 * Every command of every ```sh block of a README, in order. Lines that are only a comment (such
 * as expected output shown as `# token: ok`) are not commands.
 */
export function readmeShCommands(markdown: string = readFileSync(join(repoRoot, 'README.md'), 'utf8')): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  let section = '';
  let inSh = false;
  let inOther = false;
  let pending: string[] = [];
  let region: string | undefined;
  for (const line of markdown.split('\n')) {
    if (inSh) {
      if (line.startsWith('```')) {
        inSh = false;
        continue;
      }
      pending.push(line);
      if (line.endsWith('\\')) continue;
      const text = pending.join('\n');
      pending = [];
      if (/^\s*(#|$)/.test(text)) continue;
      out.push({ section, text, command: normalize(text), ...(region !== undefined ? { region } : {}) });
      continue;
    }
    if (inOther) {
      if (line.startsWith('```')) inOther = false;
      continue;
    }
    const marker = /^<!-- ([a-z0-9-]+): (begin|end)\b/.exec(line);
    if (marker) region = marker[2] === 'begin' ? marker[1] : undefined;
    if (line === '```sh') inSh = true;
    else if (line.startsWith('```')) inOther = true;
    else if (/^#{2,3} /.test(line)) section = line.replace(/^#+ /, '').trim();
  }
  return out;
}

/** A command without line continuations, its trailing comment, or repeated whitespace. */
export function normalize(text: string): string {
  return text
    .replace(/\\\n/g, ' ')
    .replace(/\s+#\s.*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The commands of one README section, failing loudly when the section has none. */
export function readmeSection(section: string, markdown?: string): ReadmeCommand[] {
  const commands = readmeShCommands(markdown).filter((c) => c.section === section);
  if (commands.length === 0) throw new Error(`README.md has no sh commands under "${section}"`);
  return commands;
}
