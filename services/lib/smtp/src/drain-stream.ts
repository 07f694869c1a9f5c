import type { Readable } from 'node:stream';

/** Reads whatever is left of a DATA stream, so smtp-server can send the reply and go on. */
export function drainStream(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded) resolve();
    else {
      stream.on('end', resolve);
      stream.on('error', () => resolve());
      stream.resume();
    }
  });
}
