/** Where the installed project's files are, whether run from dist/ (compiled) or elsewhere. */
import { fileURLToPath } from 'node:url';
import { dirname, resolve, basename } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
// Compiled files live in <root>/dist/component/; the SQL migrations stay in <root>/schema/.
export const PROJECT_ROOT = basename(resolve(here, '..')) === 'dist' ? resolve(here, '..', '..') : resolve(here, '..');
export const SCHEMA_DIR = resolve(PROJECT_ROOT, 'schema');
/** Compiled JavaScript root (for worker entry files). */
export const DIST_ROOT = resolve(PROJECT_ROOT, 'dist');
