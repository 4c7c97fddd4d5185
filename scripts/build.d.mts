// Types of scripts/build.mjs for the TypeScript that imports it (test/production-build.int.test.ts).
/** Workspace packages the services run, as paths from the repository's root. */
export const RUNTIME_PACKAGES: string[];
/** Compiles the runtime sources into `out` and copies what they read; the number of files compiled. */
export function compile(out: string): Promise<number>;
/** `pnpm install --prod` in `out`, then the unreachable packages removed; how many were removed. */
export function installProd(out: string): number;
