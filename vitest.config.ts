import { defineConfig } from 'vitest/config';
import { projects } from './vitest.workspace.ts';

export default defineConfig({
  test: {
    projects,
    // Integration files each get their own database, so they may run side by side.
    maxWorkers: 2,
  },
});
