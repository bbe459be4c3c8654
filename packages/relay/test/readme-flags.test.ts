import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { OPTION_SPECS } from '../src/config.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The README's table as written between its markers (undefined without them). */
async function readmeTable(): Promise<string | undefined> {
  const readme = await readFile(`${root}README.md`, 'utf8');
  return /<!-- flags:begin -->\n([\s\S]*?)\n<!-- flags:end -->/.exec(readme)?.[1];
}

describe('README flag table', () => {
  it('is the one scripts/flag-table.mjs makes from OPTION_SPECS (every flag, its env var, default and help)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['scripts/flag-table.mjs'], { cwd: root });
    const generated = stdout.trimEnd();
    for (const spec of OPTION_SPECS.filter((candidate) => candidate.flag !== 'help')) {
      expect(generated).toContain(`| \`--${spec.flag}\` | \`${spec.env}\` |`);
    }
    expect(await readmeTable(), 'README.md flag table is stale: run `node scripts/flag-table.mjs --write`').toBe(generated);
  });
});
