import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";

import { connectNotifications } from "./socket";

export interface JobProgress {
  stage: string;
  fraction: number;
}

export interface Notice {
  id: string;
  at: string;
  read: boolean;
  kind: "job" | "review" | "signoff" | "alert" | "conflict";
  /** For jobs: COMPLETED or FAILED; for alerts: firing or resolved; for a result awaiting sign-off: its order's priority. */
  status: string;
  jobId?: string;
  /** For a conflict: the study holding the new images (its reconciliation page) */
  studyId?: number;
  reason?: string;
  name?: string;
  severity?: string;
  summary?: string;
}

interface Notifications {
  notices: Notice[];
  unread: number;
  connected: boolean;
  progress: Record<string, JobProgress>;
  markAllRead: () => void;
  clear: () => void;
}

const Context = createContext<Notifications>({
  notices: [],
  unread: 0,
  connected: false,
  progress: {},
  markAllRead: () => {},
  clear: () => {},
});

const MAX_NOTICES = 100;
let sequence = 0;

/** Turns one websocket payload into notices (an Alertmanager delivery can carry several alerts). */
export function noticesFrom(payload: Record<string, unknown>, now = new Date()): Notice[] {
  const at = now.toISOString();
  if (payload.type === "ai.job.finished") {
    return [
      {
        id: `n${++sequence}`,
        at,
        read: false,
        kind: "job",
        status: String(payload.status ?? ""),
        jobId: String(payload.job_id ?? ""),
        reason: typeof payload.reason === "string" ? payload.reason : undefined,
        summary: typeof payload.summary === "string" ? payload.summary : undefined,
      },
    ];
  }
  if (payload.type === "ai.result.reviewed") {
    return [{ id: `n${++sequence}`, at, read: false, kind: "review", status: String(payload.status ?? ""), jobId: String(payload.job_id ?? "") }];
  }
  if (payload.type === "ai.result.awaiting_sign_off") {
    return [{ id: `n${++sequence}`, at, read: false, kind: "signoff", status: String(payload.priority ?? "ROUTINE"), jobId: String(payload.job_id ?? ""), name: String(payload.model ?? "") }];
  }
  if (payload.kind === "radiology_conflict") {
    return [{ id: `n${++sequence}`, at, read: false, kind: "conflict", status: "CONFLICT", studyId: Number(payload.study) }];
  }
  if (payload.kind === "alert" && Array.isArray(payload.alerts)) {
    return (payload.alerts as Record<string, string>[]).map((alert) => ({
      id: `n${++sequence}`,
      at,
      read: false,
      kind: "alert",
      status: alert.status ?? "",
      name: alert.name,
      severity: alert.severity,
      summary: alert.summary,
    }));
  }
  return [];
}

export function NotificationsProvider({ children, enabled = true }: { children: ReactNode; enabled?: boolean }) {
  const client = useQueryClient();
  const [notices, setNotices] = useState<Notice[]>([]);
  const [progress, setProgress] = useState<Record<string, JobProgress>>({});
  const [connected, setConnected] = useState(false);

  useEffect(() => {
    if (!enabled || typeof WebSocket === "undefined") return;
    return connectNotifications({
      onState: setConnected,
      onReconnect: () => void client.invalidateQueries(),
      onMessage: (payload) => {
        if (payload.type === "ai.job.progress") {
          const jobId = String(payload.job_id);
          setProgress((previous) => ({ ...previous, [jobId]: { stage: String(payload.stage ?? ""), fraction: Number(payload.fraction ?? 0) } }));
          return;
        }
        if (payload.type === "ai.job.finished") {
          const jobId = String(payload.job_id);
          setProgress(({ [jobId]: _done, ...rest }) => rest);
        }
        if (payload.type === "ai.job.finished" || payload.type === "ai.result.reviewed" || payload.type === "ai.result.awaiting_sign_off") {
          void client.invalidateQueries({ queryKey: ["ai"] });
        }
        if (payload.kind === "radiology_conflict") void client.invalidateQueries({ queryKey: ["radiology"] }); // the tab's count
        const fresh = noticesFrom(payload);
        if (fresh.length) setNotices((previous) => [...fresh.reverse(), ...previous].slice(0, MAX_NOTICES));
      },
    });
  }, [client, enabled]);

  const markAllRead = useCallback(() => setNotices((previous) => previous.map((notice) => ({ ...notice, read: true }))), []);
  const clear = useCallback(() => setNotices([]), []);
  const value = useMemo(
    () => ({ notices, unread: notices.filter((notice) => !notice.read).length, connected, progress, markAllRead, clear }),
    [notices, connected, progress, markAllRead, clear],
  );
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useNotifications(): Notifications {
  return useContext(Context);
}
