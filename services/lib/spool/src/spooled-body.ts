import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class MessageTooLargeError extends Error {
  readonly code = 'MESSAGE_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`message exceeds ${limit} octets`);
    this.name = 'MessageTooLargeError';
  }
}

/**
 * Collects a message while it arrives, in memory up to memoryLimit and in a temporary file beyond,
 * so a large or slow DATA phase neither holds the whole message in memory nor a database session.
 * Over maxSize it stops storing (the caller keeps draining the socket and replies 552).
 */
export class SpooledBody {
  private chunks: Buffer[] = [];
  private file: { dir: string; path: string; stream: WriteStream } | undefined;
  size = 0;
  overLimit = false;

  constructor(
    private readonly maxSize: number,
    private readonly memoryLimit = 1024 * 1024,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    if (this.overLimit) return;
    if (this.size + chunk.length > this.maxSize) {
      this.overLimit = true;
      await this.discard();
      return;
    }
    this.size += chunk.length;
    if (!this.file && this.size <= this.memoryLimit) {
      this.chunks.push(chunk);
      return;
    }
    if (!this.file) {
      const dir = await mkdtemp(join(tmpdir(), 'hermod-spool-'));
      const path = join(dir, 'body');
      const stream = createWriteStream(path);
      this.file = { dir, path, stream };
      for (const c of this.chunks) stream.write(c);
      this.chunks = [];
    }
    if (!this.file.stream.write(chunk))
      await new Promise<void>((resolve) => this.file!.stream.once('drain', () => resolve()));
  }

  /** Finishes writing; afterwards source() can be read (once). */
  async end(): Promise<void> {
    if (this.overLimit) throw new MessageTooLargeError(this.maxSize);
    // In memory, the message is read as one chunk: it arrived as several (trace fields, header,
    // additions, body), and each reader (policy rules, the spool through its wrappers) would pay an
    // async-iteration step per chunk and wrapper (docs/performance.md, "V8's compiling under load").
    if (!this.file && this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    if (this.file)
      await new Promise<void>((resolve, reject) =>
        this.file!.stream.end((e?: Error | null) => (e ? reject(e) : resolve())),
      );
  }

  /** The whole message when it stayed in memory (small messages), else undefined. */
  buffered(): Buffer | undefined {
    return this.file ? undefined : Buffer.concat(this.chunks, this.size);
  }

  async *source(): AsyncGenerator<Buffer> {
    if (!this.file) {
      yield* this.chunks;
      return;
    }
    for await (const chunk of createReadStream(this.file.path, { highWaterMark: 256 * 1024 }))
      yield chunk as Buffer;
  }

  async discard(): Promise<void> {
    this.chunks = [];
    if (this.file) {
      const { dir, stream } = this.file;
      this.file = undefined;
      stream.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  }
}
