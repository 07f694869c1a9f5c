/**
 * Reads a secret: the first line of piped stdin, or typed at a prompt with echo off.
 * Secrets never come from argv, where other users could see them in the process list.
 */
export async function readSecret(
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void },
  prompt: NodeJS.WritableStream,
  question: string,
): Promise<string> {
  if (!stdin.isTTY || !stdin.setRawMode) {
    let data = '';
    for await (const chunk of stdin) {
      data += chunk.toString();
      if (data.includes('\n') || data.length > 4096) break;
    }
    return data.split(/\r?\n/)[0] ?? '';
  }
  prompt.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new Error('cancelled'));
          return;
        }
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const finish = () => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      prompt.write('\n');
    };
    stdin.on('data', onData);
  });
}
