import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter } from "react-router";

import "../i18n";

export function renderPage(page: ReactElement, path = "/", client = new QueryClient({ defaultOptions: { queries: { retry: false } } })) {
  return render(
    <MantineProvider>
      <QueryClientProvider client={client}>
        <MemoryRouter initialEntries={[path]}>{page}</MemoryRouter>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

/** Stands in for the network only: each call answers with the next scripted response. */
export function scriptFetch(...responses: { status: number; body?: unknown }[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  globalThis.fetch = (async (url: string, init: RequestInit = {}) => {
    calls.push({ url, init });
    const next = responses[Math.min(calls.length, responses.length) - 1];
    return new Response(next.body === undefined ? null : JSON.stringify(next.body), {
      status: next.status,
      headers: next.body === undefined ? {} : { "Content-Type": "application/json" },
    });
  }) as typeof fetch;
  return calls;
}
