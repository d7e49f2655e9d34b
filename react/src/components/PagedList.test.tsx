import type { UseQueryResult } from "@tanstack/react-query";
import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { ApiError } from "../api/client";
import type { Page } from "../api/types";
import { renderPage } from "../test/render";
import { PagedList } from "./PagedList";

function query(data: Page<string> | undefined, state: Partial<UseQueryResult<Page<string>>> = {}) {
  return { data, isPending: data === undefined, isError: false, error: null, refetch: vi.fn(), ...state } as unknown as UseQueryResult<Page<string>>;
}

const page = (count: number, results: string[]): Page<string> => ({ count, next: null, previous: null, results });

describe("PagedList", () => {
  it("shows the rows, the count line and page links when there is more than one page", () => {
    const onPageChange = vi.fn();
    renderPage(
      <PagedList query={query(page(120, ["a", "b"]))} page={1} onPageChange={onPageChange} countLabel="audit.count">
        {(rows) => <ul>{rows.map((row) => <li key={row}>{row}</li>)}</ul>}
      </PagedList>,
    );
    expect(screen.getByText("기록 120건")).toBeTruthy();
    expect(screen.getAllByRole("listitem")).toHaveLength(2);
    fireEvent.click(screen.getByRole("button", { name: "3" }));
    expect(onPageChange).toHaveBeenCalledWith(3);
  });

  it("leaves the count line and page links out of an empty list", () => {
    renderPage(
      <PagedList query={query(page(0, []))} page={1} onPageChange={() => {}} countLabel="audit.count">
        {(rows) => <p data-testid="rows">{rows.length}</p>}
      </PagedList>,
    );
    expect(screen.getByTestId("rows").textContent).toBe("0");
    expect(screen.queryByText(/기록/)).toBeNull();
    expect(screen.queryByRole("button")).toBeNull();
  });

  it("shows a loader while the page is on its way", () => {
    renderPage(
      <PagedList query={query(undefined)} page={1} onPageChange={() => {}}>
        {() => <p>rows</p>}
      </PagedList>,
    );
    expect(screen.getByLabelText("loading")).toBeTruthy();
    expect(screen.queryByText("rows")).toBeNull();
  });

  it("names the system that failed instead of the rows, and retries on request", () => {
    const failed = query(undefined, { isPending: false, isError: true, error: new ApiError(503, { status: 503, error: "unavailable", detail: "timed out", system: "emr" }) });
    renderPage(
      <PagedList query={failed} page={1} onPageChange={() => {}}>
        {() => <p>rows</p>}
      </PagedList>,
    );
    expect(screen.getByRole("alert").textContent).toContain("EMR 시스템에 연결할 수 없습니다: timed out");
    expect(screen.queryByText("rows")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "다시 시도" }));
    expect(failed.refetch).toHaveBeenCalledTimes(1);
  });
});
