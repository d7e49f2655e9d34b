import { fireEvent, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import i18n from "../i18n";
import { renderPage } from "../test/render";
import { DataTable } from "./DataTable";
import type { Column } from "./DataTable";

interface Person {
  id: number;
  name: string;
  mrn: string;
}

const PEOPLE: Person[] = [
  { id: 1, name: "김 민수", mrn: "MRN-1" },
  { id: 2, name: "이 영희", mrn: "MRN-2" },
];

const COLUMNS: (Column<Person> | false)[] = [
  { key: "name", header: "patients.name", link: (person) => `/patients/${person.id}`, cell: (person) => person.name },
  { key: "mrn", header: <em>MRN</em>, cell: (person) => person.mrn, style: { whiteSpace: "nowrap" } },
  false,
  { key: "actions", cell: () => "…" },
];

afterEach(async () => {
  await i18n.changeLanguage("ko");
});

describe("DataTable", () => {
  it("names columns by i18n key or element, one row per record, links where a column has one", () => {
    renderPage(<DataTable striped columns={COLUMNS} rows={PEOPLE} rowKey={(person) => person.id} rowTestId="person" data-testid="people" />);
    const table = screen.getByTestId("people");
    expect(table.tagName).toBe("TABLE");
    const headers = within(table).getAllByRole("columnheader");
    expect(headers.map((header) => header.textContent)).toEqual(["이름", "MRN", ""]);
    expect(headers[1].querySelector("em")).toBeTruthy();
    const rows = screen.getAllByTestId("person");
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByRole("link", { name: "김 민수" }).getAttribute("href")).toBe("/patients/1");
    expect(within(rows[1]).getAllByRole("cell").map((cell) => cell.textContent)).toEqual(["이 영희", "MRN-2", "…"]);
    expect(within(rows[1]).getAllByRole("cell")[1].style.whiteSpace).toBe("nowrap");
  });

  it("says so when there are no rows: a translated key, or the element given", () => {
    renderPage(<DataTable columns={COLUMNS} rows={[]} rowKey={(person) => person.id} empty="patients.empty" />);
    expect(screen.getByText("일치하는 환자가 없습니다.")).toBeTruthy();
    expect(screen.queryByRole("table")).toBeNull();
    renderPage(<DataTable columns={COLUMNS} rows={[]} rowKey={(person) => person.id} empty={<p data-testid="none">none</p>} />);
    expect(screen.getByTestId("none")).toBeTruthy();
  });

  it("names columns and the empty line in the language chosen", async () => {
    await i18n.changeLanguage("en");
    renderPage(<DataTable columns={COLUMNS} rows={PEOPLE} rowKey={(person) => person.id} />);
    expect(screen.getAllByRole("columnheader")[0].textContent).toBe("Name");
    renderPage(<DataTable columns={COLUMNS} rows={[]} rowKey={(person) => person.id} empty="patients.empty" />);
    expect(screen.getByText("No matching patients.")).toBeTruthy();
  });

  it("keeps the header over an empty body when no empty message is given", () => {
    renderPage(<DataTable columns={COLUMNS} rows={[]} rowKey={(person) => person.id} />);
    expect(screen.getAllByRole("columnheader")).toHaveLength(3);
    expect(screen.queryAllByRole("cell")).toHaveLength(0);
  });

  it("shows a loader instead of the table while loading", () => {
    renderPage(<DataTable loading columns={COLUMNS} rows={PEOPLE} rowKey={(person) => person.id} />);
    expect(screen.getByLabelText("loading")).toBeTruthy();
    expect(screen.queryByRole("table")).toBeNull();
  });

  it("leaves the header row out on request", () => {
    renderPage(<DataTable withHeader={false} columns={COLUMNS} rows={PEOPLE} rowKey={(person) => person.id} />);
    expect(screen.queryAllByRole("columnheader")).toHaveLength(0);
    expect(screen.getAllByRole("row")).toHaveLength(2);
  });

  it("answers a click or Enter on a row when asked to", () => {
    const onRowClick = vi.fn();
    renderPage(<DataTable columns={COLUMNS} rows={PEOPLE} rowKey={(person) => person.id} rowTestId="person" onRowClick={onRowClick} />);
    const rows = screen.getAllByTestId("person");
    fireEvent.click(within(rows[1]).getByText("MRN-2"));
    expect(onRowClick).toHaveBeenLastCalledWith(PEOPLE[1]);
    expect(rows[0].tabIndex).toBe(0);
    fireEvent.keyDown(rows[0], { key: "Enter" });
    expect(onRowClick).toHaveBeenLastCalledWith(PEOPLE[0]);
    fireEvent.keyDown(rows[0], { key: "a" });
    expect(onRowClick).toHaveBeenCalledTimes(2);
  });

  it("makes rows neither focusable nor clickable without onRowClick", () => {
    renderPage(<DataTable columns={COLUMNS} rows={PEOPLE} rowKey={(person) => person.id} rowTestId="person" />);
    expect(screen.getAllByTestId("person")[0].hasAttribute("tabindex")).toBe(false);
  });
});
