// The web UI's build, precompressed: a `.gz` beside every file a browser downloads that gzip shrinks (scripts,
// styles, index.html, the codecs' WebAssembly), which nginx sends as it is to a client that accepts gzip
// (`gzip_static`, nginx/cdss-web.conf) instead of compressing on every request or sending the file whole.
// vite.config.ts runs it after every production build (`make run`, the nginx image, the react suite), so each
// build of the web UI has them; the originals stay for clients that do not accept gzip. Plain JavaScript
// (tsconfig's allowJs, types from JSDoc): it runs under Node, whose types the web UI's project does not have.
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

// Text and WebAssembly. Not images or fonts (already compressed), nor source maps: only an open devtools
// fetches those, and at ~30 MB they would take most of the build's compression time.
const COMPRESSIBLE = /\.(?:html|js|mjs|css|svg|json|wasm|txt|xml)$/;

/** Writes FILE.gz (gzip -9) beside each compressible file under `dir`; returns the files it wrote. */
export function precompressTree(dir) {
  const written = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const file = join(entry.parentPath, entry.name);
    if (!entry.isFile() || !COMPRESSIBLE.test(entry.name)) continue;
    const original = readFileSync(file);
    const gzipped = gzipSync(original, { level: 9 });
    if (gzipped.length >= original.length) continue; // a tiny file: nginx sends the original
    writeFileSync(`${file}.gz`, gzipped);
    // Both forms carry the same Last-Modified (nginx takes the .gz's own for the gzipped answer).
    const { atime, mtime } = statSync(file);
    utimesSync(`${file}.gz`, atime, mtime);
    written.push(`${file}.gz`);
  }
  return written;
}

/**
 * The vite plugin: precompresses the output folder once a production build has written it.
 * @returns {import("vite").Plugin}
 */
export function precompress() {
  let outDir = "";
  return {
    name: "cdss-precompress",
    apply: "build",
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle(error) {
      if (!error) precompressTree(outDir);
    },
  };
}
