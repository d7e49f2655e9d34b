// The websocket to /ws/notifications/ (same origin; wss on https). Reconnects with exponential backoff
// and says when it came back, so the caller can refetch what it may have missed.
import { SESSION_EXPIRED_EVENT } from "../api/client";

export const NOT_AUTHENTICATED = 4401; // notifications.consumers closes with it

export function socketUrl(location: Pick<Location, "protocol" | "host"> = window.location): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws/notifications/`;
}

export function backoff(attempt: number, base = 1000, cap = 30_000): number {
  return Math.min(cap, base * 2 ** attempt);
}

export interface SocketHandlers {
  onMessage: (payload: Record<string, unknown>) => void;
  onReconnect: () => void;
  onState?: (connected: boolean) => void;
}

export function connectNotifications(handlers: SocketHandlers, url = socketUrl()): () => void {
  let socket: WebSocket | null = null;
  let attempt = 0;
  let closedBefore = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const open = () => {
    if (stopped) return;
    socket = new WebSocket(url);
    socket.onopen = () => {
      attempt = 0;
      handlers.onState?.(true);
      if (closedBefore) handlers.onReconnect();
    };
    socket.onmessage = (event) => {
      try {
        const payload = JSON.parse(String(event.data));
        if (payload && typeof payload === "object") handlers.onMessage(payload);
      } catch {
        // not JSON: nothing a person can act on
      }
    };
    socket.onclose = (event) => {
      handlers.onState?.(false);
      if (stopped) return;
      if (event.code === NOT_AUTHENTICATED) {
        window.dispatchEvent(new Event(SESSION_EXPIRED_EVENT));
        return;
      }
      closedBefore = true;
      timer = setTimeout(open, backoff(attempt++));
    };
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket?.close();
  };
}
