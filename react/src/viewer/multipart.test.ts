import { describe, expect, it } from "vitest";

import { MultipartReader, boundaryOf } from "./multipart";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const encode = (value: string) => new TextEncoder().encode(value);

/** Bodies that hold what a boundary search could trip on: CR, LF, dashes, the boundary without its CRLF. */
const BODIES = ["DICM\r\n\r\n--", "--B7 is not the delimiter without its CRLF", "", "x".repeat(3000)];

function multipart(withLength: boolean): Uint8Array {
  const parts = BODIES.map((body) => `--B7\r\nContent-Type: application/dicom\r\n${withLength ? `Content-Length: ${body.length}\r\n` : ""}\r\n${body}\r\n`);
  return encode(`a preamble\r\n${parts.join("")}--B7--\r\n`);
}

function readInChunks(body: Uint8Array, size: number): { parts: string[]; reader: MultipartReader } {
  const reader = new MultipartReader("B7");
  const parts: string[] = [];
  for (let at = 0; at < body.length; at += size) parts.push(...reader.push(body.subarray(at, at + size)).map(text));
  return { parts, reader };
}

describe("multipart/related bodies", () => {
  it.each([
    ["with Content-Length", true],
    ["without it, by the boundary", false],
  ])("reads every part %s, however the bytes are split", (_, withLength) => {
    const body = multipart(withLength);
    for (const size of [1, 7, 64, body.length]) {
      const { parts, reader } = readInChunks(body, size);
      expect(parts).toEqual(BODIES);
      expect(reader.done).toBe(true);
    }
  });

  it("holds parts larger than its buffer", () => {
    const big = "y".repeat(3 << 20);
    const reader = new MultipartReader("B7");
    const body = encode(`--B7\r\nContent-Length: ${big.length}\r\n\r\n${big}\r\n--B7--`);
    const parts = [...reader.push(body.subarray(0, 1000)), ...reader.push(body.subarray(1000))];
    expect(parts.map((part) => part.length)).toEqual([big.length]);
    expect(reader.done).toBe(true);
  });

  it("is not done while the closing delimiter has not come", () => {
    const body = multipart(true);
    const reader = new MultipartReader("B7");
    expect(reader.push(body.subarray(0, body.length - 4)).map(text)).toEqual(BODIES);
    expect(reader.done).toBe(false);
  });

  it("refuses a part whose length does not end at a boundary", () => {
    const reader = new MultipartReader("B7");
    expect(() => reader.push(encode("--B7\r\nContent-Length: 2\r\n\r\nabc\r\n--B7--\r\n"))).toThrow("not followed by the boundary");
  });

  it("finds the boundary of a Content-Type, quoted or not", () => {
    expect(boundaryOf('multipart/related; type="application/dicom"; boundary=ab-12')).toBe("ab-12");
    expect(boundaryOf('multipart/related; boundary="a b"; type="application/dicom"')).toBe("a b");
    expect(boundaryOf("application/dicom+json")).toBeNull();
    expect(boundaryOf(null)).toBeNull();
  });
});
