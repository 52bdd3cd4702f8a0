// Writes the ahead-of-time schema validators (src/documents/validators/*.ts) from schema/*.json.
// Run with: npm run build:validators (node --import tsx scripts/build-validators.js).
import { writeFileSync } from 'node:fs';

const { PRECOMPILED, validatorSource } = await import('../src/documents/validator-source.ts');
for (const name of Object.keys(PRECOMPILED)) {
  const file = new URL(`../src/documents/validators/${name}.ts`, import.meta.url);
  writeFileSync(file, validatorSource(name));
  console.log(`wrote ${file.pathname}`);
}
