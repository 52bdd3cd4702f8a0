// Recipes: the detections Tripline runs. The built-ins are YAML files in recipes/builtin/,
// loaded by the same loader as a user's recipe files (recipe-loader.ts).

import type { Recipe } from '../model/recipe.ts';
import { loadBuiltinRecipes } from './recipe-loader.ts';

export const BUILTIN_RECIPES: readonly Recipe[] = loadBuiltinRecipes();
