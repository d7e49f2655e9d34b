/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { precompress } from "./scripts/precompress.mjs";

// The SPA is served by nginx from the same origin as the API; `npm run dev` proxies to `make run`'s nginx
// (HTTPS with a self-signed certificate on the local run, hence secure: false).
export default defineConfig({
  // A .gz beside each script, style and codec of a production build, for nginx's gzip_static.
  plugins: [react(), precompress()],
  // The budget that matters is the gzip size of the first load (goal under 500 kB). The study viewer
  // (Cornerstone3D, its codecs and decode workers) is a lazy chunk fetched when a viewer first opens.
  // scripts/budget.mjs checks both on every `make test` (it reads the manifest).
  build: { outDir: "dist", sourcemap: true, manifest: true, chunkSizeWarningLimit: 800 },
  // Cornerstone's image loader starts its decoders as module workers (new Worker(new URL(..., import.meta.url),
  // { type: "module" })); they must stay ES modules, and the codecs' wasm stays out of dependency pre-bundling.
  worker: { format: "es" },
  optimizeDeps: {
    exclude: ["@cornerstonejs/dicom-image-loader"],
    include: ["dicom-parser"],
  },
  server: {
    proxy: {
      "/api": { target: "https://127.0.0.1:8443", secure: false },
      "/ws": { target: "wss://127.0.0.1:8443", ws: true, secure: false },
    },
  },
  // `make test` runs this suite beside four others on as few as two cores: a test waits for what it
  // checks, and how long the machine takes is not what it checks.
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}", "scripts/**/*.test.mjs"], setupFiles: ["src/test/setup.ts"], testTimeout: 30_000 },
});
