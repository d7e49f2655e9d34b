import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { precompress, precompressTree } from "./precompress.mjs";

let root = "";
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "cdss-precompress-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A stand-in build: what a browser downloads, a source map, an image, and a file too small to shrink. */
function standInBuild(dist) {
  const script = 'export function viewer(){return "cdss-viewer"}\n'.repeat(200);
  const files = {
    "index.html": `<!doctype html><title>CDSS</title>${'<link rel="modulepreload" href="/assets/a.js">'.repeat(20)}`,
    "assets/ViewerPane-1a2b.js": script,
    "assets/index-3c4d.css": "body{margin:0}\n".repeat(200),
    "assets/codec-5e6f.wasm": Buffer.alloc(4096, 7),
    "assets/ViewerPane-1a2b.js.map": JSON.stringify({ mappings: "AAAA;".repeat(500) }),
    "assets/logo-7a8b.png": Buffer.alloc(4096, 0),
    "assets/tiny-9c0d.js": "1",
  };
  mkdirSync(join(dist, "assets"), { recursive: true });
  const built = new Date("2024-01-02T03:04:05Z"); // earlier than the .gz files written by the test
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dist, name), content);
    utimesSync(join(dist, name), built, built);
  }
  return files;
}

describe("precompressTree", () => {
  it("writes a gzip sibling of each compressible file that shrinks, and keeps the originals", () => {
    const files = standInBuild(root);
    const written = precompressTree(root).map((file) => file.slice(root.length + 1)).sort();

    expect(written).toEqual(
      ["assets/ViewerPane-1a2b.js.gz", "assets/codec-5e6f.wasm.gz", "assets/index-3c4d.css.gz", "index.html.gz"].sort(),
    );
    for (const gz of written) {
      const original = join(root, gz.slice(0, -".gz".length));
      expect(gunzipSync(readFileSync(join(root, gz)))).toEqual(readFileSync(original));
      // Last-Modified counts whole seconds.
      const seconds = (file) => Math.floor(statSync(file).mtimeMs / 1000);
      expect(seconds(join(root, gz))).toBe(seconds(original));
    }
    for (const [name, content] of Object.entries(files)) expect(readFileSync(join(root, name))).toEqual(Buffer.from(content));
    // Source maps and images are left alone; a file gzip would grow stays alone.
    for (const name of ["assets/ViewerPane-1a2b.js.map", "assets/logo-7a8b.png", "assets/tiny-9c0d.js"]) {
      expect(existsSync(join(root, `${name}.gz`))).toBe(false);
    }
  });

  it("leaves the gzip files of an earlier run alone rather than compressing them again", () => {
    standInBuild(root);
    precompressTree(root);
    expect(precompressTree(root).some((file) => file.endsWith(".gz.gz"))).toBe(false);
  });
});

describe("the vite plugin", () => {
  it("precompresses the build's output folder, resolved from the project root, after a build", () => {
    standInBuild(join(root, "out"));
    const plugin = precompress();
    expect(plugin.apply).toBe("build");
    plugin.configResolved({ root, build: { outDir: "out" } });

    plugin.closeBundle(new Error("the build failed"));
    expect(existsSync(join(root, "out/assets/ViewerPane-1a2b.js.gz"))).toBe(false);

    plugin.closeBundle();
    expect(existsSync(join(root, "out/assets/ViewerPane-1a2b.js.gz"))).toBe(true);
  });
});
