// A ZIP archive written in the browser, for a batch's images. Entries are stored, not deflated
// (PNG and JPEG do not shrink), so the format is a header, the CRC-32 and the bytes per file,
// then the central directory (APPNOTE.TXT 4.3). Names are UTF-8 (flag bit 11).

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** MS-DOS time and date words, as ZIP headers keep them (local time, 2 s resolution). */
function dosDateTime(date) {
  const time = (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1);
  const day = ((date.getFullYear() - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate();
  return [time, day];
}

const UTF8_NAMES = 0x0800;

/** A header of little-endian fields, each a [width in bytes (2 or 4), value] pair. */
function header(...fields) {
  const view = new DataView(new ArrayBuffer(fields.reduce((sum, [width]) => sum + width, 0)));
  let at = 0;
  for (const [width, value] of fields) {
    if (width === 4) view.setUint32(at, value, true);
    else view.setUint16(at, value, true);
    at += width;
  }
  return view;
}

/** A ZIP Blob of `files` ([{name, data: Uint8Array, date?}]), each stored as is. */
export function zip(files) {
  const encoder = new TextEncoder();
  const body = [];
  const directory = [];
  let offset = 0;
  let directorySize = 0;
  for (const file of files) {
    const name = encoder.encode(file.name);
    const size = file.data.length;
    const [time, day] = dosDateTime(file.date ?? new Date());
    // flags, method (0: stored), time, date, CRC-32, sizes (stored: equal), name length
    const shared = [[2, UTF8_NAMES], [2, 0], [2, time], [2, day], [4, crc32(file.data)],
      [4, size], [4, size], [2, name.length]];
    // local header: signature, version needed (2.0), shared, extra length
    body.push(header([4, 0x04034b50], [2, 20], ...shared, [2, 0]), name, file.data);
    // central directory entry: signature, made by, needed, shared, extra, comment, disk,
    // internal and external attributes, where the local header starts
    directory.push(header([4, 0x02014b50], [2, 20], [2, 20], ...shared, [2, 0], [2, 0], [2, 0],
      [2, 0], [4, 0], [4, offset]), name);
    offset += 30 + name.length + size;
    directorySize += 46 + name.length;
  }
  // end of central directory: signature, disk numbers, entries (here and in all), its size
  // and offset, comment length
  const end = header([4, 0x06054b50], [2, 0], [2, 0], [2, files.length], [2, files.length],
    [4, directorySize], [4, offset], [2, 0]);
  return new Blob([...body, ...directory, end], { type: "application/zip" });
}

/** Offer `blob` to the browser as a download named `name`. */
export function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
