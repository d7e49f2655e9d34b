// The web UI's size budget, checked on a production build (vite's manifest, build.manifest in vite.config.ts):
//   node scripts/budget.mjs DIST
// First load: index.html's entry chunk, what it imports statically and its CSS: under 500 kB gzip.
// The viewer: the lazy chunk of src/viewer/StudyViewer.tsx and what it alone imports statically (Cornerstone):
// under 1.5 MB gzip (issue #21). Decode workers and codecs (fetched on demand, per transfer syntax) are listed.
// The sizes are those of the build's own .gz files (scripts/precompress.mjs), which nginx sends: a chunk
// without one fails the check, so `make test` also checks that the build precompresses.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const KB = 1024;
const BUDGETS = { "first load": 500 * KB, "viewer (lazy)": 1.5 * KB * KB };
const VIEWER_ENTRY = "src/viewer/StudyViewer.tsx";

const dist = process.argv[2] ?? "dist";
const manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));
const gzipped = (file) => {
  const gz = join(dist, `${file}.gz`);
  if (!existsSync(gz)) throw new Error(`${file} has no ${file}.gz: the build did not precompress it (vite.config.ts)`);
  return statSync(gz).size;
};

/** The chunk keys reached from `start` through static imports. */
function closure(start) {
  const seen = new Set();
  const walk = (key) => {
    if (seen.has(key)) return;
    seen.add(key);
    for (const next of manifest[key].imports ?? []) walk(next);
  };
  walk(start);
  return seen;
}

const files = (keys) => [...keys].flatMap((key) => [manifest[key].file, ...(manifest[key].css ?? [])]);
const entry = Object.keys(manifest).find((key) => manifest[key].isEntry);
if (!entry || !manifest[VIEWER_ENTRY]) throw new Error(`no entry or no ${VIEWER_ENTRY} chunk in the manifest`);
const firstLoad = closure(entry);
const viewer = [...closure(VIEWER_ENTRY)].filter((key) => !firstLoad.has(key));
const groups = { "first load": files(firstLoad), "viewer (lazy)": files(viewer) };

let over = false;
for (const [name, list] of Object.entries(groups)) {
  const total = list.reduce((sum, file) => sum + gzipped(file), 0);
  const ok = total <= BUDGETS[name];
  over ||= !ok;
  console.log(`${name}: ${(total / KB).toFixed(0)} kB gzip (budget ${(BUDGETS[name] / KB).toFixed(0)} kB) ${ok ? "ok" : "OVER"}: ${list.join(", ")}`);
}
const onDemand = Object.values(manifest).flatMap((chunk) => chunk.assets ?? []).filter((file) => /worker|\.wasm$/i.test(file));
for (const file of new Set(onDemand)) console.log(`  on demand: ${file} ${(gzipped(file) / KB).toFixed(0)} kB gzip`);
if (over) {
  console.error("over budget: see which modules a chunk holds with its source map (dist/assets/*.js.map)");
  process.exit(1);
}
