// Recipes: the detections Tripline ships with. Every recipe the engine runs comes from here
// (built-ins) or, later, from user recipe files validated against the same model.

import type { Recipe } from '../model/recipe.ts';
import { OS_NETWORK_FINGERPRINT } from './os-network-fingerprint.ts';

export const BUILTIN_RECIPES: readonly Recipe[] = [OS_NETWORK_FINGERPRINT];
