import { resolve } from "node:path";
import { defineConfig } from "vite";

// The studio's build; output lands in the Python package so `pasar serve`
// serves it without Node at run time. The embed is built after it, on its
// own (vite.embed.config.ts): it runs on other origins.
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
      },
    },
  },
});
