// multipart/related bodies, as DICOMweb answers a retrieval (PS3.18 8.6.1.2): parts read as the bytes come.

/** Where `needle` begins in `haystack` at or after `from`, or -1. */
function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  for (let at = haystack.indexOf(needle[0], from); at !== -1 && at + needle.length <= haystack.length; at = haystack.indexOf(needle[0], at + 1)) {
    let index = 1;
    while (index < needle.length && haystack[at + index] === needle[index]) index++;
    if (index === needle.length) return at;
  }
  return -1;
}

const ascii = (text: string) => new TextEncoder().encode(text);
const HEADER_END = ascii("\r\n\r\n");

/** A multipart/related body read chunk by chunk: `push` answers the parts completed so far. A part's
 * Content-Length is used where it is given (Orthanc gives it), or else its closing boundary is looked for. */
export class MultipartReader {
  private buffer = new Uint8Array(1 << 20);
  private start = 0;
  private end = 0;
  private readonly delimiter: Uint8Array;
  private opened = false;
  done = false;

  constructor(boundary: string) {
    this.delimiter = ascii(`\r\n--${boundary}`);
  }

  push(chunk: Uint8Array): Uint8Array[] {
    this.append(chunk);
    const parts: Uint8Array[] = [];
    for (let part = this.next(); part; part = this.next()) parts.push(part);
    return parts;
  }

  private append(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buffer.length) {
      const unread = this.end - this.start;
      if (unread + chunk.length > this.buffer.length / 2) {
        const grown = new Uint8Array(2 * Math.max(this.buffer.length, unread + chunk.length));
        grown.set(this.buffer.subarray(this.start, this.end));
        this.buffer = grown;
      } else {
        this.buffer.copyWithin(0, this.start, this.end);
      }
      this.start = 0;
      this.end = unread;
    }
    this.buffer.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** The next whole part; `start` is just past a delimiter ("\r\n--boundary"), once the first is found. */
  private next(): Uint8Array | null {
    if (this.done) return null;
    const view = this.buffer.subarray(this.start, this.end);
    if (!this.opened) {
      // the first delimiter may come without the CRLF before it, after a preamble
      const first = indexOfBytes(view, this.delimiter.subarray(2), 0);
      if (first === -1) return null;
      this.start += first + this.delimiter.length - 2;
      this.opened = true;
      return this.next();
    }
    if (view.length < 2) return null;
    if (view[0] === 0x2d && view[1] === 0x2d) {
      this.done = true; // "--": the closing delimiter
      return null;
    }
    // the rest of the delimiter's line and the part's headers, up to an empty line
    const headersEnd = indexOfBytes(view, HEADER_END, 0);
    if (headersEnd === -1) return null;
    const headers = new TextDecoder().decode(view.subarray(0, headersEnd));
    const bodyStart = headersEnd + HEADER_END.length;
    const length = Number(/^content-length:\s*(\d+)\s*$/im.exec(headers)?.[1] ?? NaN);
    let bodyEnd: number;
    if (Number.isFinite(length)) {
      bodyEnd = bodyStart + length;
      if (view.length < bodyEnd + this.delimiter.length) return null;
      if (indexOfBytes(view.subarray(bodyEnd, bodyEnd + this.delimiter.length), this.delimiter, 0) !== 0) throw new Error("multipart: a part is not followed by the boundary");
    } else {
      bodyEnd = indexOfBytes(view, this.delimiter, bodyStart);
      if (bodyEnd === -1) return null;
    }
    const body = view.slice(bodyStart, bodyEnd); // its own memory: the buffer is reused
    this.start += bodyEnd + this.delimiter.length;
    return body;
  }
}

/** The boundary of a multipart Content-Type. */
export function boundaryOf(contentType: string | null): string | null {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  return match ? (match[1] ?? match[2]) : null;
}
