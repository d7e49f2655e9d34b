import { describe, expect, it } from "vitest";

import en from "./en.json";
import ko from "./ko.json";

function keys(tree: object, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([key, value]) => (typeof value === "object" ? keys(value, `${prefix}${key}.`) : [`${prefix}${key}`]));
}

// every source file's text, through Vite's glob import (no Node APIs in the browser-typed project)
const sources = import.meta.glob<string>(["../**/*.ts", "../**/*.tsx", "!../**/*.test.*", "!../api/schema.d.ts"], {
  query: "?raw",
  import: "default",
  eager: true,
});

describe("locales", () => {
  it("say the same things in Korean and English", () => {
    expect(keys(ko).sort()).toEqual(keys(en).sort());
  });

  it("have every literal key the code uses", () => {
    const known = new Set(keys(ko));
    // t("a.b"), and the keys DataTable and PagedList translate: header: "a.b", empty="a.b", countLabel="a.b", and StatusFilter's label="a.b"
    const literal = /(?:\bt\(\s*|\b(?:header|empty|countLabel|label)\s*[:=]\s*)"([a-zA-Z]+\.[\w.-]+)"/g;
    const used = Object.values(sources).flatMap((text) => [...text.matchAll(literal)].map((match) => match[1]));
    expect(used.length).toBeGreaterThan(100);
    expect(used.filter((key) => !known.has(key))).toEqual([]);
  });
});
