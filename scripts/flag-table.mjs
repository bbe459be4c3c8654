// The relay's flag table in README.md, made from the CLI's own option definitions (OPTION_SPECS in
// packages/relay/src/config.ts, which `--help` prints too), so the README cannot miss or misstate a flag.
//
//   node scripts/flag-table.mjs           prints the markdown table
//   node scripts/flag-table.mjs --write   rewrites README.md between <!-- flags:begin --> and <!-- flags:end -->
//
// packages/relay/test/readme-flags.test.ts fails while the README's table differs from this one.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const BEGIN = '<!-- flags:begin -->';
const END = '<!-- flags:end -->';

/** A table cell: pipes would end the cell early. */
const cell = (text) => text.replaceAll('|', '\\|');

function flagTable(specs) {
  const rows = specs
    .filter((spec) => spec.flag !== 'help')
    .map((spec) => `| \`--${spec.flag}\` | \`${spec.env}\` | ${cell(spec.defaultText ?? '—')} | ${cell(spec.help)} |`);
  return ['| flag | env | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** The README with `table` between the markers; throws when the markers are missing. */
function withTable(readme, table) {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END, begin);
  if (begin < 0 || end < 0) throw new Error(`README.md needs ${BEGIN} and ${END} around the flag table`);
  return `${readme.slice(0, begin + BEGIN.length)}\n${table}\n${readme.slice(end)}`;
}

const { OPTION_SPECS } = await tsImport('../packages/relay/src/config.ts', import.meta.url);
const table = flagTable(OPTION_SPECS);
if (process.argv.includes('--write')) {
  const before = readFileSync(README, 'utf8');
  const after = withTable(before, table);
  if (after !== before) writeFileSync(README, after);
  console.log(after === before ? 'README.md: flag table already current' : 'README.md: flag table rewritten');
} else {
  console.log(table);
}
