// Test helper: validates a SARIF file with Microsoft's validator (the SARIF rules and GitHub
// code scanning's own, "Gh") and fails on any error or warning it reports.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Log, Result } from 'sarif';

const MULTITOOL = fileURLToPath(new URL('../node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool', import.meta.url));

function messageOfValidator(log: Log, r: Result): string {
  const rule = log.runs[0]?.tool.driver.rules?.find((x) => x.id === r.ruleId);
  const id = r.message.id;
  const template = r.message.text ?? (id === undefined ? undefined : rule?.messageStrings?.[id]?.text) ?? id ?? '';
  const args = r.message.arguments ?? [];
  return `${r.ruleId ?? '?'}: ${template.replace(/\{(\d+)\}/g, (whole, n: string) => args[Number(n)] ?? whole)}`;
}

/**
 * The binary is run directly: the npm wrapper passes its arguments through a shell, which would
 * cut "Gh;Sarif" at the semicolon. npm does not make it executable, hence the chmod.
 */
export function assertValidSarif(file: string): void {
  if (!existsSync(MULTITOOL)) assert.fail(`the SARIF validator is missing (${MULTITOOL}); run npm install (devDependency @microsoft/sarif-multitool)`);
  chmodSync(MULTITOOL, 0o755);
  const out = `${file}.validation.sarif`;
  execFileSync(MULTITOOL, ['validate', file, '--rule-kind', 'Gh;Sarif', '--output', out, '--log', 'ForceOverwrite', '--quiet'], { stdio: 'pipe' });
  const log = JSON.parse(readFileSync(out, 'utf8')) as Log;
  // A result without a level is a warning (SARIF §3.27.10).
  const bad = (log.runs[0]?.results ?? []).filter((r) => (r.level ?? 'warning') === 'error' || (r.level ?? 'warning') === 'warning');
  assert.deepEqual(bad.map((r) => `${r.level ?? 'warning'} ${messageOfValidator(log, r)}`), [], `validator findings in ${file}`);
}
