import { useQuery } from "@tanstack/react-query";

import { api } from "./client";
import type { OpsOverview } from "./types";

/** The operations overview, refreshed every 30 s while the page is open. */
export function useOpsOverview() {
  return useQuery({
    queryKey: ["ops", "overview"],
    queryFn: () => api<OpsOverview>("/api/ops/overview"),
    refetchInterval: 30_000,
  });
}
