import { loadRecipeFiles } from './src/recipes/recipe-loader.ts';
import { formatDiagnostic } from './src/model/diagnostic.ts';
import { BUILTIN_RECIPES } from './src/recipes/builtin-recipes.ts';
const r = loadRecipeFiles(process.argv.slice(2), BUILTIN_RECIPES);
for (const d of r.diagnostics) console.log(formatDiagnostic(d));
