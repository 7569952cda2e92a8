import { defineConfig } from 'vite';

// The dashboard is served by the gateway at `/`; in `npm run web:dev` Vite proxies the API to it.
export default defineConfig({
  base: '/',
  publicDir: 'public',
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // Budget is checked by web/scripts/budget.ts; Vite's own warning would only repeat it.
    chunkSizeWarningLimit: 1000,
    modulePreload: { polyfill: false },
    // web/scripts/budget.ts reads the chunk graph from it (dist/.vite/manifest.json, not served).
    manifest: true,
  },
  server: {
    port: 5173,
    proxy: { '/graphql': { target: 'http://127.0.0.1:4000', ws: true } },
  },
});
