// /api/patients/{id}/board: the tumour-board summary, its PDF and its share to the FHIR server.
import { useMutation, useQuery } from "@tanstack/react-query";

import { api, apiLanguage } from "./client";
import type { components } from "./schema";

type Schemas = components["schemas"];
export type BoardSummary = Schemas["BoardSummary"];
export type BoardReport = Schemas["BoardReport"];

export function useBoard(puuid: string) {
  return useQuery({
    queryKey: ["patient", puuid, "board"],
    queryFn: () => api<BoardSummary>(`/api/patients/${encodeURIComponent(puuid)}/board`),
    retry: 1,
  });
}

/** A plain link (the browser downloads it with the session cookie), in the language the UI shows. */
export function boardPdfUrl(puuid: string): string {
  return `/api/patients/${encodeURIComponent(puuid)}/board.pdf?lang=${encodeURIComponent(apiLanguage())}`;
}

export function useShareBoard(puuid: string) {
  return useMutation({
    mutationFn: () => api<BoardReport>(`/api/patients/${encodeURIComponent(puuid)}/board/share`, { method: "POST" }),
  });
}
