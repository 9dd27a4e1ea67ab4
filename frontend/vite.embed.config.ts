import { resolve } from "node:path";
import { defineConfig } from "vite";

// The embed (embed.js) is built on its own, as a library: one stable entry
// file the vendor's page loads from Pasar's origin, and hashed chunks (hls.js,
// each language) that it imports *relative to itself*, so they come from Pasar
// too, whatever page runs it: /embed.js imports ./embed/c/…, served from
// static/embed/c. Runs after the main build (which empties outDir).
export default defineConfig({
  root: resolve(import.meta.dirname),
  build: {
    outDir: resolve(import.meta.dirname, "../src/pasar/web/static"),
    emptyOutDir: false,
    target: "es2020",
    copyPublicDir: false,
    // Library mode keeps whitespace by default; the embed is fetched by every shopper.
    minify: true,
    lib: {
      entry: resolve(import.meta.dirname, "embed/embed.ts"),
      formats: ["es"],
      fileName: () => "embed.js",
    },
    rollupOptions: {
      output: { chunkFileNames: "embed/c/[name]-[hash].js", minify: true },
    },
  },
});
