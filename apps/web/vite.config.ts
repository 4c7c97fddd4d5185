// Vite builds the app as static files (dist/): Preact's JSX through esbuild, no plugin needed.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset URLs: the same build is served at / (npm start) or under any path (nginx).
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Fonts stay files (fetched only when a glyph needs them), never inlined into CSS.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: { port: 4010 },
});
