// Small DICOM Part-10 files built in memory (explicit VR little endian), for code that parses real bytes.

function tag(group: number, element: number): number[] {
  return [group & 0xff, group >> 8, element & 0xff, element >> 8];
}

const u16 = (value: number) => [value & 0xff, value >> 8];
const u32 = (value: number) => [value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, value >>> 24];

function ui(group: number, element: number, uid: string): number[] {
  const bytes = [...new TextEncoder().encode(uid)];
  if (bytes.length % 2) bytes.push(0);
  return [...tag(group, element), ..."UI".split("").map((c) => c.charCodeAt(0)), ...u16(bytes.length), ...bytes];
}

function sequence(group: number, element: number, items: number[][]): number[] {
  const body = items.flatMap((item) => [...tag(0xfffe, 0xe000), ...u32(item.length), ...item]);
  return [...tag(group, element), ..."SQ".split("").map((c) => c.charCodeAt(0)), 0, 0, ...u32(body.length), ...body];
}

/** A file whose ReferencedSeriesSequence (0008,1115) names the series it was drawn on, as a DICOM SEG's does. */
export function segReferencing(seriesUid: string): ArrayBuffer {
  const meta = ui(0x0002, 0x0010, "1.2.840.10008.1.2.1");
  const data = [...ui(0x0008, 0x0016, "1.2.840.10008.5.1.4.1.1.66.4"), ...sequence(0x0008, 0x1115, [ui(0x0020, 0x000e, seriesUid)])];
  return new Uint8Array([...new Array(128).fill(0), ..."DICM".split("").map((c) => c.charCodeAt(0)), ...meta, ...data]).buffer;
}

const vr = (name: string) => name.split("").map((c) => c.charCodeAt(0));

function us(group: number, element: number, value: number): number[] {
  return [...tag(group, element), ...vr("US"), ...u16(2), ...u16(value)];
}

function is(group: number, element: number, value: number): number[] {
  const text = [...new TextEncoder().encode(String(value))];
  if (text.length % 2) text.push(0x20);
  return [...tag(group, element), ...vr("IS"), ...u16(text.length), ...text];
}

function item(bytes: number[]): number[] {
  return [...tag(0xfffe, 0xe000), ...u32(bytes.length), ...bytes];
}

export interface ImageFileOptions {
  sopInstanceUid: string;
  transferSyntaxUid?: string;
  rows?: number;
  columns?: number;
  frames?: number;
  /** Native pixel data, all frames. */
  pixels?: number[];
  /** Encapsulated pixel data: the fragments, and the basic offset table (empty by default). */
  fragments?: number[][];
  offsets?: number[];
}

/** An image file (16-bit, one sample per pixel) with native or encapsulated pixel data. */
export function imageFile({ sopInstanceUid, transferSyntaxUid = "1.2.840.10008.1.2.1", rows = 2, columns = 2, frames, pixels = [], fragments, offsets = [] }: ImageFileOptions): Uint8Array {
  const meta = ui(0x0002, 0x0010, transferSyntaxUid);
  const header = [
    ...ui(0x0008, 0x0018, sopInstanceUid),
    ...us(0x0028, 0x0002, 1),
    ...(frames ? is(0x0028, 0x0008, frames) : []),
    ...us(0x0028, 0x0010, rows),
    ...us(0x0028, 0x0011, columns),
    ...us(0x0028, 0x0100, 16),
  ];
  const pixelData = fragments
    ? [...tag(0x7fe0, 0x0010), ...vr("OB"), 0, 0, ...u32(0xffffffff), ...item(offsets.flatMap(u32)), ...fragments.flatMap(item), ...tag(0xfffe, 0xe0dd), ...u32(0)]
    : [...tag(0x7fe0, 0x0010), ...vr("OW"), 0, 0, ...u32(pixels.length), ...pixels];
  return new Uint8Array([...new Array(128).fill(0), ...vr("DICM"), ...meta, ...header, ...pixelData]);
}
