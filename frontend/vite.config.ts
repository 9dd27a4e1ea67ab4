import { resolve } from "node:path";
import { defineConfig } from "vite";

// One build for every front end; output lands in the Python package so
// `pasar serve` serves it without Node at run time.
export default defineConfig({
  root: resolve(import.meta.dirname),
  base: "/",
  build: {
    outDir: resolve(import.meta.dirname, "../src/pasar/web/static"),
    emptyOutDir: true,
    target: "es2020",
    rollupOptions: {
      input: {
        studio: resolve(import.meta.dirname, "studio/index.html"),
        watch: resolve(import.meta.dirname, "watch/index.html"),
      },
    },
  },
});
