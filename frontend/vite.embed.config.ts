import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";

// The element's types for vendors' developers, served beside it as /embed.d.ts.
function shipTypes(): Plugin {
  return {
    name: "pasar-ship-types",
    generateBundle() {
      const source = readFileSync(resolve(import.meta.dirname, "embed/pasar-live.d.ts"), "utf8");
      this.emitFile({ type: "asset", fileName: "embed.d.ts", source });
    },
  };
}

// The embed (embed.js) is built on its own, as a library: one stable entry
// file the vendor's page loads from Pasar's origin, and hashed chunks (hls.js,
// each language) that it imports *relative to itself*, so they come from Pasar
// too, whatever page runs it: /embed.js imports ./embed/c/…, served from
// static/embed/c. Runs after the main build (which empties outDir).
// Every script of the embed also as .br and .gz, compressed once at build time at the
// highest levels (too slow per request): Pasar serves whichever the browser accepts.
function precompress(): Plugin {
  return {
    name: "pasar-precompress",
    generateBundle(_options, bundle) {
      for (const [fileName, item] of Object.entries(bundle)) {
        if (item.type !== "chunk") continue;
        const source = Buffer.from(item.code);
        const br = brotliCompressSync(source, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
        this.emitFile({ type: "asset", fileName: `${fileName}.br`, source: br });
        this.emitFile({ type: "asset", fileName: `${fileName}.gz`, source: gzipSync(source, { level: 9 }) });
      }
    },
  };
}

export default defineConfig({
  root: resolve(import.meta.dirname),
  plugins: [shipTypes(), precompress()],
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
