// The MR sequence type of a series from its SeriesDescription, by the same rules as the ai-server's
// guess_sequence (ai-server/src/ai_server/pipelines/segmentation.py, description part), and the brain-tumour
// layout built from it: T1, T1C, T2, FLAIR side by side.
import type { SeriesSummary } from "./dicomweb";

export type Sequence = "T1" | "T1C" | "T2" | "FLAIR";

/** The order of the brain-tumour layout's panes. */
export const SEQUENCE_ORDER: readonly Sequence[] = ["T1", "T1C", "T2", "FLAIR"];

// The first match wins, so FLAIR and post-contrast T1 come before T1 and T2; DWI is matched (so that, say,
// "DWI TRACE" is not read as something else) but is not one of the layout's types.
const PATTERNS: [Sequence | "DWI", RegExp][] = [
  ["FLAIR", /flair|dark.?fluid/i],
  ["T1C", /(t1|mprage|spgr|bravo|vibe).*(\+c|gd|gad|post|contrast|\bce\b)|(\+c|gad|post).*t1/i],
  ["T1", /t1|mprage|mp-rage|spgr|bravo|\btfl\b/i],
  ["DWI", /dwi|diffusion|\badc\b|trace/i],
  ["T2", /t2|\btse\b|\bfse\b/i],
];

export function guessSequence(description: string | undefined): Sequence | null {
  const match = PATTERNS.find(([, pattern]) => pattern.test(description ?? ""))?.[0];
  return match && match !== "DWI" ? match : null;
}

/** The series of the brain-tumour layout in T1, T1C, T2, FLAIR order (of several of one type, the one with
 * the most instances), or null when fewer than two of the types are present. */
export function brainSeries(series: SeriesSummary[]): { sequence: Sequence; series: SeriesSummary }[] | null {
  const best = new Map<Sequence, SeriesSummary>();
  for (const item of series) {
    const sequence = guessSequence(item.description);
    const chosen = sequence && best.get(sequence);
    if (sequence && (!chosen || (item.instances ?? 0) > (chosen.instances ?? 0))) best.set(sequence, item);
  }
  if (best.size < 2) return null;
  return SEQUENCE_ORDER.filter((sequence) => best.has(sequence)).map((sequence) => ({ sequence, series: best.get(sequence)! }));
}
