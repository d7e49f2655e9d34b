import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { renderPage } from "../test/render";
import { StatusFilter } from "./StatusFilter";

describe("StatusFilter", () => {
  it("offers the statuses in the badge's words and answers with the status chosen", async () => {
    const onChange = vi.fn();
    renderPage(<StatusFilter label="audit.outcome" statuses={["SUCCESS", "DENIED"]} value={null} onChange={onChange} />);
    fireEvent.click(screen.getByRole("combobox", { name: "결과" }));
    const options = await screen.findAllByRole("option");
    expect(options.map((option) => option.textContent)).toEqual(["성공", "거부"]);
    fireEvent.click(options[1]);
    expect(onChange).toHaveBeenCalledWith("DENIED", expect.anything());
  });
});
