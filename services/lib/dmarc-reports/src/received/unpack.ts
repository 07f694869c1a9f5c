import { gunzipSync } from 'node:zlib';
import yauzl from 'yauzl';
import { type ReportLimits, ReportParseError } from './types.js';

const isGzip = (data: Uint8Array) => data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
const isZip = (data: Uint8Array) =>
  data.length >= 4 && data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x03 && data[3] === 0x04;

/**
 * The report file inside an attachment, whatever its declared type: gzip and zip are recognised by
 * their magic bytes, anything else is taken as it is. Decompression stops at `maxReportBytes`
 * (a zip bomb is a parse failure, never a large allocation).
 */
export async function unpackReport(data: Uint8Array, limits: ReportLimits): Promise<Buffer> {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (isGzip(buffer)) {
    try {
      return gunzipSync(buffer, { maxOutputLength: limits.maxReportBytes });
    } catch (error) {
      if (error instanceof RangeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        throw new ReportParseError('too-large', `gzip content over ${limits.maxReportBytes} bytes`);
      throw new ReportParseError('decompress', `gzip: ${(error as Error).message}`);
    }
  }
  if (isZip(buffer)) return unzipFirst(buffer, limits.maxReportBytes);
  if (buffer.length > limits.maxReportBytes)
    throw new ReportParseError('too-large', `report over ${limits.maxReportBytes} bytes`);
  return buffer;
}

/** The first file of a zip archive (a DMARC report zip holds one XML file), read with a byte budget. */
function unzipFirst(buffer: Buffer, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const fail = (reason: 'too-large' | 'decompress', message: string) =>
      reject(new ReportParseError(reason, message));
    yauzl.fromBuffer(buffer, { lazyEntries: true, validateEntrySizes: true }, (openError, zip) => {
      if (openError || !zip) return fail('decompress', `zip: ${openError?.message ?? 'unreadable'}`);
      let done = false;
      const finish = (action: () => void) => {
        if (done) return;
        done = true;
        zip.close();
        action();
      };
      zip.on('error', (error: Error) => finish(() => fail('decompress', `zip: ${error.message}`)));
      zip.on('end', () => finish(() => fail('decompress', 'zip: no file in the archive')));
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        if (entry.uncompressedSize > maxBytes)
          return finish(() => fail('too-large', `zip entry of ${entry.uncompressedSize} bytes`));
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream)
            return finish(() => fail('decompress', `zip: ${streamError?.message ?? 'unreadable entry'}`));
          const chunks: Buffer[] = [];
          let size = 0;
          stream.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) {
              stream.destroy();
              finish(() => fail('too-large', `zip entry over ${maxBytes} bytes`));
            } else chunks.push(chunk);
          });
          stream.on('error', (error: Error) => finish(() => fail('decompress', `zip: ${error.message}`)));
          stream.on('end', () => finish(() => resolve(Buffer.concat(chunks))));
        });
      });
      zip.readEntry();
    });
  });
}
